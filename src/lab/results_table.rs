//! The table of lab results in `results/README.md` and in the project
//! README, generated from the `report.json` files on disk, so that the
//! figures a reader sees are exactly the ones the reports hold (a test
//! compares the README with the committed reports).

use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// Opens the generated block in a Markdown file.
pub const BLOCK_START: &str =
    "<!-- lab table: generated from results/*/report.json by `lab all`; do not edit -->";
/// Closes the generated block.
pub const BLOCK_END: &str = "<!-- end of lab table -->";

/// One row per `DIR/<lab>/report.json`, in name order, with links to each
/// lab's report prefixed by `link_prefix` (e.g. `results/`), and a line
/// that sums the runs up.
pub fn from_reports(dir: &Path, link_prefix: &str) -> Result<String, String> {
    let mut reports = Vec::new();
    let entries = std::fs::read_dir(dir)
        .map_err(|error| format!("cannot read {}: {error}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path().join("report.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // not a lab folder
        };
        let report: Value =
            serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?;
        reports.push(report);
    }
    reports.sort_by(|a, b| a["lab"].as_str().cmp(&b["lab"].as_str()));
    Ok(render(&reports, link_prefix))
}

fn render(reports: &[Value], link_prefix: &str) -> String {
    let mut text = String::from(
        "| lab | verdict | failover ms | longest write outage ms | write p50 ms | write p99 ms | seed | run s |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    let number = |value: &Value, decimals: usize| match value.as_f64() {
        Some(value) => format!("{value:.decimals$}"),
        None => "–".into(),
    };
    for report in reports {
        let lab = report["lab"].as_str().unwrap_or("?");
        let latency = &report["operations"]["write"]["latency_ms"];
        let verdict = if report["passed"] == Value::Bool(true) {
            "✅ pass"
        } else {
            "❌ fail"
        };
        let duration_s = report["duration_ms"]
            .as_f64()
            .map(|ms| Value::from(ms / 1000.0));
        let _ = writeln!(
            text,
            "| [{lab}]({link_prefix}{lab}/report.md) | {verdict} | {} | {} | {} | {} | {} | {} |",
            number(&report["intervals"]["failover_ms"], 0),
            number(&report["availability"]["longest_gap_ms"], 0),
            number(&latency["p50"], 2),
            number(&latency["p99"], 2),
            report["seed"],
            number(&duration_s.unwrap_or(Value::Null), 1),
        );
    }
    let passed = reports
        .iter()
        .filter(|report| report["passed"] == Value::Bool(true))
        .count();
    let total_s: f64 = reports
        .iter()
        .filter_map(|report| report["duration_ms"].as_f64())
        .sum::<f64>()
        / 1000.0;
    let _ = writeln!(
        text,
        "\n{passed} of {} labs passed; together they ran for {total_s:.0} s.",
        reports.len()
    );
    text
}

/// `text` with the generated block replaced by `table`; `None` when the
/// text has no block.
pub fn replace_block(text: &str, table: &str) -> Option<String> {
    let start = text.find(BLOCK_START)? + BLOCK_START.len();
    let end = start + text[start..].find(BLOCK_END)?;
    Some(format!("{}\n{table}{}", &text[..start], &text[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_row_shows_the_report_figures_and_dashes_for_what_is_missing() {
        let reports = [
            json!({
                "lab": "leader-failure", "passed": true, "seed": 7, "duration_ms": 2900.0,
                "intervals": {"failover_ms": 453.2},
                "availability": {"longest_gap_ms": 452.7},
                "operations": {"write": {"latency_ms": {"p50": 0.774, "p99": 1.29}}}
            }),
            json!({"lab": "idle", "passed": false, "seed": 7, "duration_ms": 100.0,
                   "intervals": {}, "availability": {}, "operations": {}}),
        ];
        let table = render(&reports, "results/");
        assert!(table.contains(
            "| [leader-failure](results/leader-failure/report.md) | ✅ pass | 453 | 453 | 0.77 | 1.29 | 7 | 2.9 |"
        ), "{table}");
        assert!(
            table
                .contains("| [idle](results/idle/report.md) | ❌ fail | – | – | – | – | 7 | 0.1 |"),
            "{table}"
        );
        assert!(
            table.contains("1 of 2 labs passed; together they ran for 3 s."),
            "{table}"
        );
    }

    #[test]
    fn the_block_is_replaced_and_the_rest_kept() {
        let text = format!("before\n{BLOCK_START}\nold\n{BLOCK_END}\nafter\n");
        assert_eq!(
            replace_block(&text, "new\n").unwrap(),
            format!("before\n{BLOCK_START}\nnew\n{BLOCK_END}\nafter\n")
        );
        assert_eq!(replace_block("no block", "new"), None);
    }
}
