//! The plans the server serves: every plan directory under `--plans`, loaded at start.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use jiff::tz::TimeZone;
use metroplan_engine::Plan;
use metroplan_engine::workflow::PARAM_MIN_OPINIONS;

#[derive(Debug)]
pub struct Served {
    pub plan: Plan,
    pub tz: TimeZone,
    /// Where it was read from.
    pub dir: std::path::PathBuf,
}

#[derive(Debug, Default)]
pub struct Plans {
    pub by_id: BTreeMap<String, Arc<Served>>,
    /// When the plans were read.
    pub loaded_at: Option<jiff::Timestamp>,
    /// Plan directories not served because they have errors.
    pub refused: Vec<String>,
}

impl Plans {
    pub fn get(&self, id: &str) -> Option<&Arc<Served>> {
        self.by_id.get(id)
    }

    /// Loads `dir` itself when it is a plan, else each plan directory inside it.
    pub fn load(dir: &Path) -> anyhow::Result<Plans> {
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
        let mut plans = Plans::default();
        let mut refused = Vec::new();
        for d in dirs {
            let loaded = metroplan_engine::load_dir(&d);
            match loaded.plan {
                Some(plan) if loaded.errors() == 0 => {
                    let tz = TimeZone::get(&plan.timezone).map_err(|e| {
                        anyhow::anyhow!("plan {}: time zone `{}`: {e}", d.display(), plan.timezone)
                    })?;
                    check_guards(&plan)?;
                    tracing::info!(plan = %plan.id, dir = %d.display(), "plan loaded");
                    plans
                        .by_id
                        .insert(plan.id.to_string(), Arc::new(Served { plan, tz, dir: d }));
                }
                _ => {
                    tracing::error!(
                        dir = %d.display(),
                        errors = loaded.errors(),
                        "plan has errors and is not served (run `metroplan check` on it)"
                    );
                    refused.push(d.display().to_string());
                }
            }
        }
        if plans.by_id.is_empty() {
            anyhow::bail!(
                "no valid plan under {}{}",
                dir.display(),
                if refused.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({} refused: run `metroplan check` on them)",
                        refused.join(", ")
                    )
                }
            );
        }
        plans.loaded_at = Some(jiff::Timestamp::now());
        plans.refused = refused;
        Ok(plans)
    }
}

/// A guard that reads a fund parameter needs the parameter: refused at start, not at the
/// first decision.
fn check_guards(plan: &Plan) -> anyhow::Result<()> {
    for f in &plan.funds {
        let Some(wf) = plan.workflow(f.workflow.as_str()) else {
            continue;
        };
        let uses = wf.transitions.iter().any(|t| {
            t.guards
                .iter()
                .any(|g| g.as_str() == "min-opinions-reached")
        });
        if uses
            && !f
                .parameters
                .iter()
                .any(|p| p.id.as_str() == PARAM_MIN_OPINIONS)
        {
            anyhow::bail!(
                "plan {}: fund `{}`: its workflow uses the guard `min-opinions-reached`, which reads the parameter `{PARAM_MIN_OPINIONS}`: declare it",
                plan.id,
                f.id
            );
        }
    }
    Ok(())
}
