//! The plans the server serves: every plan directory under `--plans`, loaded at start and
//! reloaded when their files change (or on SIGHUP). A new version replaces the old one only
//! once it has loaded with no error; a broken edit is refused, its diagnostics kept for the
//! administration page, and the last good version goes on serving.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use jiff::tz::TimeZone;
use metroplan_engine::Plan;

#[derive(Debug)]
pub struct Served {
    pub plan: Plan,
    pub tz: TimeZone,
    /// Where it was read from.
    pub dir: PathBuf,
    /// When this version was read.
    pub loaded_at: jiff::Timestamp,
}

/// A plan directory whose last edit was refused.
#[derive(Debug, Clone)]
pub struct Refused {
    pub dir: String,
    /// The diagnostics, rendered as `metroplan check` prints them.
    pub diagnostics: Vec<String>,
    /// Whether an earlier version of it is still served.
    pub serving_previous: bool,
}

#[derive(Debug, Default)]
pub struct Plans {
    pub by_id: BTreeMap<String, Arc<Served>>,
    /// When the plans were last read (successfully or not).
    pub loaded_at: Option<jiff::Timestamp>,
    /// Plan directories whose current files do not load.
    pub refused: Vec<Refused>,
}

/// The plans being served, replaced whole and atomically by a reload.
#[derive(Debug, Clone, Default)]
pub struct PlanSet {
    current: Arc<RwLock<Arc<Plans>>>,
    /// Every fund title and state label served since the server started.
    known: Arc<RwLock<Known>>,
}

/// What the server has served since it started, for the files whose fund or state a live
/// edit renamed or removed: the last title of each fund and the last label of each state of
/// its workflow. Kept in memory only: after a restart, such a file's fund is unknown.
#[derive(Debug, Default)]
struct Known {
    /// (plan, fund) → title.
    funds: BTreeMap<(String, String), String>,
    /// (plan, fund, state) → label.
    states: BTreeMap<(String, String, String), String>,
}

impl Known {
    fn record(&mut self, plans: &Plans) {
        for (id, s) in &plans.by_id {
            for f in &s.plan.funds {
                self.funds
                    .insert((id.clone(), f.id.to_string()), f.title.clone());
                let Some(wf) = s.plan.workflow(f.workflow.as_str()) else {
                    continue;
                };
                for st in &wf.states {
                    self.states.insert(
                        (id.clone(), f.id.to_string(), st.id.to_string()),
                        st.label.clone(),
                    );
                }
            }
        }
    }
}

impl From<Plans> for PlanSet {
    fn from(p: Plans) -> PlanSet {
        let mut known = Known::default();
        known.record(&p);
        PlanSet {
            current: Arc::new(RwLock::new(Arc::new(p))),
            known: Arc::new(RwLock::new(known)),
        }
    }
}

impl PlanSet {
    /// The plans now; a request keeps the version it started with.
    pub fn current(&self) -> Arc<Plans> {
        self.current.read().expect("plan set lock").clone()
    }

    pub fn get(&self, id: &str) -> Option<Arc<Served>> {
        self.current().get(id).cloned()
    }

    /// The last title this server served for `fund` of `plan`, if it ever served it.
    pub fn known_fund_title(&self, plan: &str, fund: &str) -> Option<String> {
        let known = self.known.read().expect("known plans lock");
        known
            .funds
            .get(&(plan.to_string(), fund.to_string()))
            .cloned()
    }

    /// The last label this server served for `state` in the workflow of `fund` of `plan`.
    pub fn known_state_label(&self, plan: &str, fund: &str, state: &str) -> Option<String> {
        let known = self.known.read().expect("known plans lock");
        known
            .states
            .get(&(plan.to_string(), fund.to_string(), state.to_string()))
            .cloned()
    }

    /// Reads `dir` again; valid plans replace their previous version, broken ones keep it.
    pub fn reload(&self, dir: &Path) -> Arc<Plans> {
        let previous = self.current();
        let next = Arc::new(Plans::read(dir, Some(&previous)));
        for r in &next.refused {
            tracing::error!(
                dir = %r.dir,
                serving_previous = r.serving_previous,
                diagnostics = %r.diagnostics.join("\n"),
                "plan edit refused: the last good version goes on serving"
            );
        }
        for (id, s) in &next.by_id {
            if previous.get(id).is_none_or(|p| !Arc::ptr_eq(p, s)) {
                tracing::info!(plan = %id, dir = %s.dir.display(), "plan reloaded");
            }
        }
        self.known.write().expect("known plans lock").record(&next);
        *self.current.write().expect("plan set lock") = next.clone();
        next
    }
}

fn plan_dirs(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    if dir.join("plan.toml").is_file() {
        dirs.push(dir.to_path_buf());
    } else {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| anyhow::anyhow!("--plans {}: {e}", dir.display()))?;
        for e in entries {
            let p = e?.path();
            if p.join("plan.toml").is_file() {
                dirs.push(p);
            }
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Loads one plan directory, with everything the server needs checked.
fn load_one(d: &Path) -> Result<Served, Vec<String>> {
    let loaded = metroplan_engine::load_dir(d);
    match loaded.plan {
        Some(plan) if loaded.errors() == 0 => {
            let tz = TimeZone::get(&plan.timezone)
                .map_err(|e| vec![format!("time zone `{}`: {e}", plan.timezone)])?;
            Ok(Served {
                plan,
                tz,
                dir: d.to_path_buf(),
                loaded_at: jiff::Timestamp::now(),
            })
        }
        _ => Err(loaded
            .diagnostics
            .iter()
            .filter(|x| x.severity() == metroplan_engine::diagnostic::Severity::Error)
            .map(|x| loaded.sources.render(x))
            .collect()),
    }
}

impl Plans {
    pub fn get(&self, id: &str) -> Option<&Arc<Served>> {
        self.by_id.get(id)
    }

    /// Loads `dir` itself when it is a plan, else each plan directory inside it; fails when
    /// no plan is valid.
    pub fn load(dir: &Path) -> anyhow::Result<Plans> {
        let plans = Plans::read(dir, None);
        if plans.by_id.is_empty() {
            anyhow::bail!(
                "no valid plan under {}{}",
                dir.display(),
                if plans.refused.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({} refused: run `metroplan check` on them)",
                        plans
                            .refused
                            .iter()
                            .map(|r| r.dir.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            );
        }
        for r in &plans.refused {
            tracing::error!(dir = %r.dir, errors = r.diagnostics.len(), "plan has errors and is not served (run `metroplan check` on it)");
        }
        Ok(plans)
    }

    /// Reads the plans under `dir`. A plan that does not load keeps its version in
    /// `previous`, if any: the same directory, or the same plan id.
    fn read(dir: &Path, previous: Option<&Plans>) -> Plans {
        let mut plans = Plans::default();
        let dirs = match plan_dirs(dir) {
            Ok(d) => d,
            Err(e) => {
                plans.refused.push(Refused {
                    dir: dir.display().to_string(),
                    diagnostics: vec![e.to_string()],
                    serving_previous: previous.is_some_and(|p| !p.by_id.is_empty()),
                });
                if let Some(p) = previous {
                    plans.by_id = p.by_id.clone();
                }
                plans.loaded_at = Some(jiff::Timestamp::now());
                return plans;
            }
        };
        let old_of =
            |d: &Path| previous.and_then(|p| p.by_id.values().find(|s| s.dir == d).cloned());
        for d in &dirs {
            match load_one(d) {
                Ok(served) => {
                    let id = served.plan.id.to_string();
                    if plans.by_id.contains_key(&id) {
                        plans.refused.push(Refused {
                            dir: d.display().to_string(),
                            diagnostics: vec![format!(
                                "another directory already serves a plan with the id `{id}`"
                            )],
                            serving_previous: false,
                        });
                        continue;
                    }
                    if previous.is_none() {
                        tracing::info!(plan = %id, dir = %d.display(), "plan loaded");
                    }
                    plans.by_id.insert(id, Arc::new(served));
                }
                Err(diagnostics) => {
                    let old = old_of(d);
                    plans.refused.push(Refused {
                        dir: d.display().to_string(),
                        diagnostics,
                        serving_previous: old.is_some(),
                    });
                    if let Some(old) = old {
                        plans.by_id.insert(old.plan.id.to_string(), old);
                    }
                }
            }
        }
        // A plan whose directory vanished (or lost its plan.toml) mid-edit keeps serving its
        // last good version: applications refer to it.
        if let Some(p) = previous {
            for (id, s) in &p.by_id {
                if !dirs.contains(&s.dir) && !plans.by_id.contains_key(id) {
                    plans.refused.push(Refused {
                        dir: s.dir.display().to_string(),
                        diagnostics: vec![format!(
                            "{}: no plan.toml any more; the last good version of `{id}` is still served",
                            s.dir.display()
                        )],
                        serving_previous: true,
                    });
                    plans.by_id.insert(id.clone(), s.clone());
                }
            }
        }
        plans.loaded_at = Some(jiff::Timestamp::now());
        plans
    }
}
