//! Diagnostics: what is wrong in a plan, where, and how to fix it.
//!
//! Every diagnostic has a stable code documented in `docs/errors.md`; tests check that
//! each code has its documentation entry and its fixture.

use std::fmt;
use std::ops::Range;

use serde::Serialize;

use crate::source::{FileId, SourceMap};

/// How serious a diagnostic is: errors make `check` fail, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

macro_rules! codes {
    ($( $variant:ident = $code:literal, $sev:ident, $title:literal; )*) => {
        /// Stable diagnostic codes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $( $variant, )* }

        impl Code {
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];
            pub fn as_str(self) -> &'static str { match self { $( Code::$variant => $code, )* } }
            pub fn severity(self) -> Severity { match self { $( Code::$variant => Severity::$sev, )* } }
            /// One line saying what the code means.
            pub fn title(self) -> &'static str { match self { $( Code::$variant => $title, )* } }
        }
    };
}

codes! {
    Syntax = "E001", Error, "TOML syntax error";
    UnknownKey = "E002", Error, "unknown key";
    InvalidValue = "E003", Error, "value of the wrong type or form";
    MissingKey = "E004", Error, "required key missing";
    DuplicateId = "E005", Error, "the same id is declared twice";
    UnknownReference = "E006", Error, "reference to something that is not declared";
    DependencyCycle = "E007", Error, "dependencies form a loop";
    ImpossibleDate = "E008", Error, "a date that does not exist";
    NegativeAmount = "E009", Error, "an amount below zero";
    OverlappingPeriods = "E010", Error, "two dated values in force on the same day";
    InvalidId = "E011", Error, "an id with characters that are not allowed";
    InvertedRange = "E012", Error, "an end before its start";
    Include = "E013", Error, "an included file that cannot be read";
    UnreachableState = "E014", Error, "a workflow state that no transition reaches";
    WorkflowDeadEnd = "E015", Error, "a workflow state that is not terminal and has no way out";
    ConflictingTiming = "E016", Error, "timing that contradicts itself";
    WrongKindOfReference = "E017", Error, "a reference to the wrong kind of thing";
    MissingPlan = "E018", Error, "the root file has no [plan] section";
    RulesScript = "E019", Error, "a rules script that does not compile or declares its rules wrongly";
    RuleConflict = "E020", Error, "two exceptions to one rule with the same priority";
    MissingGuardParameter = "E021", Error, "a parameter the fund's workflow names is missing from the fund or has the wrong unit";
    AutomaticLoop = "E022", Error, "automatic transitions form a loop";
    WorkflowDeclaration = "E023", Error, "a workflow declaration that cannot work as written";
    WorkflowCondition = "E024", Error, "a workflow condition that does not compile";
    Template = "E025", Error, "a template that does not compile, or a document no template gives";
    RuleTest = "E026", Error, "a rule test that does not parse or does not fit the fund";
    FormSection = "E028", Error, "a form field or document naming an unknown section, or a section with nothing in it";
    BudgetExceeded = "W001", Warning, "allocations exceed the year's budget";
    RulesScriptMissing = "W002", Warning, "the rules script of a fund is not found";
    OutsidePlanPeriod = "W003", Warning, "a date outside the plan's period";
    GridTotal = "W004", Warning, "the selection grid does not add up to its total";
    NoAdministration = "W005", Warning, "a fund that takes applications declares no administration";
    MissingPage = "W006", Warning, "a plan that takes applications does not publish one of the pages an authority owes";
    DeadlineMissed = "S001", Warning, "the schedule finishes an item after its deadline";
    ScheduleConflict = "S002", Warning, "a fixed date the dependencies do not allow";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A place in a plan file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Loc {
    pub file: FileId,
    pub span: Range<usize>,
}

impl Loc {
    pub fn new(file: FileId, span: Range<usize>) -> Self {
        Loc { file, span }
    }
}

/// A secondary place that explains the diagnostic (the first declaration of a duplicate,
/// each edge of a cycle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub loc: Loc,
    pub message: String,
}

/// One finding about a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub message: String,
    /// Where it is; `None` only for problems with no place (an unreadable directory).
    pub loc: Option<Loc>,
    /// Short text under the caret.
    pub label: Option<String>,
    pub related: Vec<Label>,
    /// Replacements to try, best first ("did you mean").
    pub suggestions: Vec<String>,
    /// How to fix it, in words.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(code: Code, loc: Option<Loc>, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            loc,
            label: None,
            related: Vec::new(),
            suggestions: Vec::new(),
            help: None,
        }
    }

    pub fn at(code: Code, loc: Loc, message: impl Into<String>) -> Self {
        Self::new(code, Some(loc), message)
    }

    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_related(mut self, loc: Loc, message: impl Into<String>) -> Self {
        self.related.push(Label {
            loc,
            message: message.into(),
        });
        self
    }

    pub fn with_suggestions(mut self, suggestions: Vec<String>) -> Self {
        self.suggestions = suggestions;
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Collects diagnostics while a plan is read; never stops at the first.
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity() == Severity::Error)
    }

    /// Sorted by file, then position, then code, so that output is deterministic.
    pub fn into_sorted(mut self, sources: &SourceMap) -> Vec<Diagnostic> {
        self.items.sort_by(|a, b| {
            let key = |d: &Diagnostic| {
                d.loc
                    .as_ref()
                    .map(|l| (sources.path(l.file).to_path_buf(), l.span.start))
            };
            key(a)
                .cmp(&key(b))
                .then(a.code.cmp(&b.code))
                .then(a.message.cmp(&b.message))
        });
        self.items.dedup();
        self.items
    }
}
