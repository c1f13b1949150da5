//! The markdown report: a header, the targets table, then one section per case.

use std::fmt::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// What it is compared with was not measured in this run (its case did not run).
    NotMeasured,
}

impl Verdict {
    pub fn of(pass: bool) -> Verdict {
        if pass { Verdict::Pass } else { Verdict::Fail }
    }

    fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::NotMeasured => "NOT MEASURED",
        }
    }
}

#[derive(Default)]
pub struct Report {
    /// Bullet lines under the title.
    pub header: Vec<String>,
    targets: Vec<(String, String, String, Verdict)>,
    sections: Vec<String>,
}

impl Report {
    pub fn target(
        &mut self,
        measure: impl Into<String>,
        result: impl Into<String>,
        target: impl Into<String>,
        verdict: Verdict,
    ) {
        self.targets
            .push((measure.into(), result.into(), target.into(), verdict));
    }

    /// A `### title` section with `body` (markdown).
    pub fn section(&mut self, title: &str, body: String) {
        self.sections
            .push(format!("### {title}\n\n{}\n", body.trim_end()));
    }

    pub fn render(&self, title: &str) -> String {
        let mut out = format!("## {title}\n\n");
        for line in &self.header {
            let _ = writeln!(out, "- {line}");
        }
        out.push('\n');
        if !self.targets.is_empty() {
            out.push_str(
                "### Targets\n\n| measure | result | target | |\n| --- | --- | --- | --- |\n",
            );
            for (measure, result, target, verdict) in &self.targets {
                let _ = writeln!(
                    out,
                    "| {measure} | {result} | {target} | {} |",
                    verdict.word()
                );
            }
            out.push('\n');
        }
        for section in &self.sections {
            out.push_str(section);
            out.push('\n');
        }
        out
    }
}

/// A markdown table from a header row and rows.
pub fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        head.join(" | "),
        " --- |".repeat(head.len())
    );
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}
