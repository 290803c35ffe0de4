//! The running evaluation's state. Host functions reach it through a thread-local, so that
//! one compiled ruleset serves every thread and each evaluation owns its trace.
//!
//! A [`Session`] sets it for one run and clears it when dropped, whether the run returns,
//! fails, or unwinds from a panic: a thread that caught the panic (a server worker does)
//! must not start its next evaluation in the previous one's mode, with its application's
//! data still there.

use std::cell::RefCell;
use std::sync::Arc;

use jiff::civil::Date;

use super::application::Application;
use super::environment::Env;
use super::types::{Declaration, InputUse, ParamUse, RuleResult, Status};

#[derive(Debug, Default, PartialEq, Eq)]
pub(super) enum Mode {
    #[default]
    Idle,
    Declare,
    Evaluate,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) mode: Mode,
    pub(super) env: Option<Arc<Env>>,
    pub(super) app: Application,
    pub(super) filed_on: Option<Date>,
    pub(super) other_filings: u32,
    pub(super) declared: Vec<(Declaration, rhai::Position)>,
    pub(super) results: Vec<RuleResult>,
    pub(super) grid: Vec<(String, Status)>,
    pub(super) inputs: Vec<InputUse>,
    pub(super) params: Vec<ParamUse>,
    pub(super) printed: Vec<String>,
    pub(super) current: Option<Current>,
    /// A parameter read that has no value on the filing date: the rules do not cover that
    /// date, which is the application's matter, not a fault of the script.
    pub(super) out_of_period: Option<String>,
}

/// The check being run.
#[derive(Default)]
pub(super) struct Current {
    pub(super) id: String,
    pub(super) missing: Vec<String>,
    pub(super) inputs: Vec<usize>,
    pub(super) params: Vec<usize>,
    /// Set when the check applied a parameter with no value in force on the filing date.
    pub(super) uncovered: Option<String>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

pub(super) fn with_state<T>(f: impl FnOnce(&mut State) -> T) -> T {
    STATE.with(|s| f(&mut s.borrow_mut()))
}

/// One run of a script (declaration or evaluation) on this thread: the state it starts
/// with is set on creation, and the thread's state is idle again when it is dropped.
pub(super) struct Session(());

impl Session {
    pub(super) fn start(state: State) -> Session {
        with_state(|s| *s = state);
        Session(())
    }

    /// The state the run left, taken out (the thread's is idle again).
    pub(super) fn finish(self) -> State {
        with_state(std::mem::take)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // During unwinding the panicking frame's borrow is already released; `try_` keeps a
        // drop at thread exit (or a borrow still held, which would be a bug) from panicking.
        let _ = STATE.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                *s = State::default();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use super::*;

    fn is_idle() -> bool {
        with_state(|s| {
            s.mode == Mode::Idle
                && s.env.is_none()
                && s.app.values.is_empty()
                && s.filed_on.is_none()
                && s.other_filings == 0
                && s.printed.is_empty()
                && s.inputs.is_empty()
                && s.current.is_none()
        })
    }

    fn running() -> State {
        State {
            mode: Mode::Evaluate,
            filed_on: Some(jiff::civil::date(2021, 3, 1)),
            other_filings: 2,
            printed: vec!["printed by the script".into()],
            current: Some(Current {
                id: "art-5".into(),
                ..Current::default()
            }),
            ..State::default()
        }
    }

    #[test]
    fn state_is_reset_when_a_host_function_panics() {
        let r = catch_unwind(AssertUnwindSafe(|| {
            let _session = Session::start(running());
            // The panic happens while the host function holds the state borrowed.
            with_state(|s| {
                assert_eq!(s.mode, Mode::Evaluate);
                panic!("a host function panics");
            });
        }));
        assert!(r.is_err(), "the scope panicked");
        assert!(is_idle(), "the thread-local state is left as it was");
    }

    #[test]
    fn state_is_reset_when_a_panic_unwinds_through_the_script() {
        let mut engine = rhai::Engine::new_raw();
        engine.register_fn("boom", || -> bool {
            with_state(|s| s.printed.push("read before the panic".into()));
            panic!("a host function panics inside the script");
        });
        let r = catch_unwind(AssertUnwindSafe(|| {
            let _session = Session::start(running());
            let _ = engine.eval::<bool>("boom()");
        }));
        assert!(r.is_err(), "the panic went through Rhai");
        assert!(is_idle(), "the thread-local state is left as it was");
    }

    #[test]
    fn finishing_a_session_takes_its_state_and_leaves_the_thread_idle() {
        let session = Session::start(running());
        let st = session.finish();
        assert_eq!(st.mode, Mode::Evaluate);
        assert_eq!(st.other_filings, 2);
        assert!(is_idle());
    }
}
