//! The territory hierarchy, indexed once when the plan loads: each territory's position and
//! its ancestors, so that "which council contains this commune" is a lookup.

use rustc_hash::FxHashMap;

use super::{Id, Plan, Territory, TerritoryLevel};

/// Territories by id, and each one's ancestors (indexes, nearest first).
#[derive(Debug, Default)]
pub(crate) struct TerritoryTree {
    index: FxHashMap<Id, usize>,
    ancestors: Vec<Box<[usize]>>,
}

impl TerritoryTree {
    /// Indexes `territories`, whose parents the loader has resolved and checked: a parent is
    /// always of a higher level, so the hierarchy has no loop (the walk is bounded anyway).
    pub(crate) fn new(territories: &[Territory]) -> TerritoryTree {
        let index: FxHashMap<Id, usize> = territories
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.clone(), i))
            .collect();
        let ancestors = territories
            .iter()
            .map(|t| {
                let mut up = Vec::new();
                let mut parent = t.parent.as_ref();
                while let Some(&i) = parent.and_then(|p| index.get(p))
                    && up.len() < territories.len()
                {
                    up.push(i);
                    parent = territories[i].parent.as_ref();
                }
                up.into_boxed_slice()
            })
            .collect();
        TerritoryTree { index, ancestors }
    }
}

impl Plan {
    /// A territory by id.
    pub fn territory(&self, id: &str) -> Option<&Territory> {
        self.territory_position(id).map(|i| &self.territories[i])
    }

    /// The position of territory `id` in `territories`.
    pub(crate) fn territory_position(&self, id: &str) -> Option<usize> {
        self.territory_tree.index.get(id).copied()
    }

    /// The territories that contain territory `id`, nearest first (its parent, then its
    /// parent's parent, up to the plan area); nothing for an id the plan does not declare.
    pub fn ancestors(&self, id: &str) -> impl Iterator<Item = &Territory> + '_ {
        let up = self
            .territory_position(id)
            .map_or(&[][..], |i| &self.territory_tree.ancestors[i]);
        up.iter().map(|&i| &self.territories[i])
    }

    /// The territorial council that territory `id` is or belongs to: `None` for the plan
    /// area, for a commune that belongs to the area directly, and for an unknown id.
    pub fn council_of(&self, id: &str) -> Option<&Territory> {
        let t = self.territory(id)?;
        std::iter::once(t)
            .chain(self.ancestors(id))
            .find(|t| t.level == TerritoryLevel::Council)
    }
}
