//! The lab table in the README must be the one the committed reports give:
//! a figure edited by hand, or reports regenerated without the README, fail
//! here. Regenerate both with `cargo run --release -- lab all`.

use raftcache::lab::results_table::{from_reports, replace_block};
use std::path::Path;

#[test]
fn readme_lab_table_matches_the_committed_reports() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let table = from_reports(Path::new("results"), "results/").unwrap();
    assert!(table.lines().count() > 14, "no reports found:\n{table}");
    let expected = replace_block(&readme, &table).expect("README.md has the lab table block");
    assert!(
        readme == expected,
        "README.md's lab table differs from results/*/report.json; expected:\n{table}"
    );
}
