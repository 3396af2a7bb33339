//! The lab runner end to end on ephemeral ports, and the script errors a
//! newcomer meets first: each must name the line and column.

use raftcache::lab::script::{parse, ScriptError};
use raftcache::lab::{run, RunOptions};
use std::path::Path;
use tokio_util::sync::CancellationToken;

const SHORT_LAB: &str = r#"
summary = "A follower dies and returns while two clients write."
description = "Test lab."

[[step]]
action = "wait"
until = "leader"

[[step]]
action = "workload"
name = "writers"
op = "write"
clients = 2
background = true

[[step]]
action = "sleep"
ms = 200

[[step]]
action = "mark"
name = "failover"
until = "write_ok"

[[step]]
action = "kill"
node = "leader"
as = "victim"

[[step]]
action = "wait"
until = "new_leader"
timeout_ms = 3000

[[step]]
action = "sleep"
ms = 300

[[step]]
action = "restart"
node = "victim"

[[step]]
action = "stop"
workload = "writers"

[[step]]
action = "expect_acknowledged_writes_readable"
"#;

/// Two clusters: the first is judged before `reset_cluster` replaces it.
/// Its `expect_no_commit` asks about a killed node and must fail.
const TWO_PHASE_LAB: &str = r#"
summary = "Writes on two clusters, one after the other."
description = "Test lab."

[[step]]
action = "wait"
until = "leader"

[[step]]
action = "workload"
name = "first"
op = "write"
clients = 2
count = 40

[[step]]
action = "mark"
name = "before"

[[step]]
action = "kill"
node = "follower"
as = "gone"

[[step]]
action = "expect_no_commit"
node = "gone"
since = "before"

[[step]]
action = "reset_cluster"

[[step]]
action = "wait"
until = "leader"

[[step]]
action = "workload"
name = "second"
op = "write"
clients = 2
count = 30
"#;

fn options(seed: u64, out: &Path) -> RunOptions {
    RunOptions {
        seed,
        out: out.to_path_buf(),
        step_mode: false,
        hold: false,
        base_port: 0,
        control_port: 0,
        verbose: false,
        stop: CancellationToken::new(),
    }
}

fn check_detail<'a>(report: &'a serde_json::Value, name: &str) -> (bool, &'a str) {
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}"));
    (
        check["ok"].as_bool().unwrap(),
        check["detail"].as_str().unwrap(),
    )
}

fn parse_error(source: &str) -> ScriptError {
    parse(Path::new("broken.toml"), source, None).expect_err("the script is broken")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lab_runs_end_to_end_and_writes_its_report() {
    let out = tempfile::tempdir().unwrap();
    let script = parse(Path::new("short.toml"), SHORT_LAB, None).unwrap();
    let lab_run = run(&script, options(11, out.path())).await.unwrap();
    let text = std::fs::read_to_string(lab_run.dir.join("report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["lab"], "short");
    assert_eq!(report["seed"], 11);
    assert_eq!(report["nodes"], 3);
    assert_eq!(report["passed"], true, "report: {text}");
    assert_eq!(report["steps"].as_array().unwrap().len(), 10);
    assert!(report["steps"][0]["started_ms"].is_number());
    let failover_ms = report["intervals"]["failover_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("no failover in {text}"));
    assert!(
        failover_ms > 0.0 && failover_ms < 3000.0,
        "failover {failover_ms} ms"
    );
    assert!(report["elections"].as_array().unwrap().len() >= 2);
    let writes = &report["operations"]["write"];
    assert!(writes["ok"].as_u64().unwrap() > 0);
    assert!(
        writes["latency_ms"]["p99"].as_f64().unwrap()
            >= writes["latency_ms"]["p50"].as_f64().unwrap()
    );
    let checks: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|check| check["name"].as_str().unwrap())
        .collect();
    for name in [
        "linearizable",
        "one_leader_per_term",
        "no_acknowledged_write_lost",
        "converged",
    ] {
        assert!(checks.contains(&name), "missing check {name}: {checks:?}");
    }
    for file in ["report.md", "latency.svg", "history.jsonl"] {
        assert!(lab_run.dir.join(file).exists(), "{file} written");
    }
    // Every acknowledged write carries its log position, and the check
    // found each of them in the logs the nodes left on disk.
    let history = std::fs::read_to_string(lab_run.dir.join("history.jsonl")).unwrap();
    let acknowledged: Vec<serde_json::Value> = history
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|op| op["op"] == "write" && op["outcome"] == "ok")
        .collect();
    assert!(!acknowledged.is_empty());
    assert!(acknowledged
        .iter()
        .all(|op| op["index"].as_u64().unwrap() > 0 && op["term"].as_u64().unwrap() > 0));
    let (ok, detail) = check_detail(&report, "no_acknowledged_write_lost");
    assert!(ok, "{detail}");
    assert!(
        detail.contains(&format!(
            "{} acknowledged updates (writes, deletes, clears) found at their log index",
            acknowledged.len()
        )),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_cluster_is_judged_before_it_is_replaced() {
    let out = tempfile::tempdir().unwrap();
    let script = parse(Path::new("two-phase.toml"), TWO_PHASE_LAB, None).unwrap();
    let lab_run = run(&script, options(12, out.path())).await.unwrap();
    let text = std::fs::read_to_string(lab_run.dir.join("report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    // The one failed step: a killed node cannot show it committed nothing.
    let failed: Vec<&serde_json::Value> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|step| step["ok"] == false)
        .collect();
    assert_eq!(failed.len(), 1, "{text}");
    assert_eq!(failed[0]["action"], "expect_no_commit");
    assert!(
        failed[0]["detail"]
            .as_str()
            .unwrap()
            .contains("is not running"),
        "{text}"
    );
    assert_eq!(report["passed"], false);
    // Both phases were read back and their logs compared.
    let (ok, detail) = check_detail(&report, "no_acknowledged_write_lost");
    assert!(ok, "{detail}");
    assert!(
        detail.contains("phase 0: 40 acknowledged updates")
            && detail.contains("phase 1: 30 acknowledged updates"),
        "{detail}"
    );
    let (ok, detail) = check_detail(&report, "converged");
    assert!(ok, "{detail}");
    assert!(
        detail.contains("phase 0 before reset_cluster") && detail.contains("phase 1 after repair"),
        "{detail}"
    );
    for check in report["checks"].as_array().unwrap() {
        assert_eq!(check["ok"], true, "{check}");
    }
}

#[test]
fn unknown_action_names_line_column_and_the_valid_actions() {
    let error =
        parse_error("summary = \"s\"\ndescription = \"d\"\n\n[[step]]\naction = \"explode\"\n");
    assert_eq!((error.line, error.column), (5, 10), "{error}");
    assert!(error.message.contains("unknown action"), "{error}");
    assert!(
        error.message.contains("`kill`") && error.message.contains("`partition`"),
        "{error}"
    );
    assert!(
        error.to_string().starts_with("broken.toml:5:10:"),
        "{error}"
    );
}

#[test]
fn unknown_node_names_line_column_and_the_valid_nodes() {
    let error = parse_error(
        "summary = \"s\"\ndescription = \"d\"\n\n[[step]]\naction = \"kill\"\nnode = \"node7\"\n",
    );
    assert_eq!((error.line, error.column), (6, 8), "{error}");
    assert!(error.message.contains("unknown node \"node7\""), "{error}");
    assert!(
        error.message.contains("leader") && error.message.contains("node3"),
        "{error}"
    );
}

#[test]
fn bad_type_points_at_the_key_holding_it() {
    let error = parse_error(
        "summary = \"s\"\ndescription = \"d\"\n\n[[step]]\naction = \"sleep\"\nms = \"five\"\n",
    );
    assert_eq!((error.line, error.column), (6, 1), "{error}");
    assert!(error.message.contains("invalid type"), "{error}");
}

#[test]
fn missing_field_points_at_the_step() {
    let error =
        parse_error("summary = \"s\"\ndescription = \"d\"\n\n[[step]]\naction = \"kill\"\n");
    assert_eq!((error.line, error.column), (4, 1), "{error}");
    assert!(error.message.contains("missing field `node`"), "{error}");
}

#[test]
fn unknown_key_is_an_error_with_the_valid_keys() {
    let error = parse_error("summary = \"s\"\ndescription = \"d\"\n\n[[step]]\naction = \"wait\"\nuntil = \"leader\"\ntimeout = 5\n");
    assert_eq!((error.line, error.column), (7, 1), "{error}");
    assert!(error.message.contains("unknown field `timeout`"), "{error}");
    assert!(error.message.contains("timeout_ms"), "{error}");
    let error = parse_error("summary = \"s\"\ndescription = \"d\"\n[cluster]\nnode = 3\n");
    assert_eq!(error.line, 4, "{error}");
}

#[test]
fn every_shipped_lab_parses() {
    let labs = raftcache::cli::lab_cmd::all_scripts(Path::new("labs"), None).unwrap();
    assert!(labs.len() >= 14, "{} labs", labs.len());
    for lab in labs {
        assert!(
            !lab.description.is_empty() && !lab.steps.is_empty(),
            "{}",
            lab.name
        );
    }
}

/// A script of the given steps, each a `[[step]]` table's lines.
fn steps(steps: &[&str]) -> String {
    let mut source = String::from("summary = \"s\"\ndescription = \"d\"\n");
    for step in steps {
        source.push_str("\n[[step]]\n");
        source.push_str(step);
        source.push('\n');
    }
    source
}

#[test]
fn empty_key_is_rejected_at_the_key() {
    for action in ["set", "get", "delete"] {
        let value = if action == "set" { "\nvalue = 1" } else { "" };
        let source = steps(&[&format!("action = \"{action}\"\nkey = \"\"{value}")]);
        let error = parse_error(&source);
        // Line 4 is `[[step]]`, 5 the action, 6 the key.
        assert_eq!((error.line, error.column), (6, 1), "{action}: {error}");
        assert!(error.message.contains("the key is empty"), "{error}");
    }
}

#[test]
fn key_longer_than_the_api_allows_is_rejected() {
    let long = "k".repeat(raftcache::api::body::MAX_KEY_BYTES + 1);
    let error = parse_error(&steps(&[&format!(
        "action = \"set\"\nkey = \"{long}\"\nvalue = 1"
    )]));
    assert_eq!((error.line, error.column), (6, 1), "{error}");
    // A prefix that makes the workload's highest key too long points at key_prefix.
    let prefix = "p".repeat(raftcache::api::body::MAX_KEY_BYTES);
    let error = parse_error(&steps(&[&format!(
        "action = \"workload\"\nop = \"write\"\ncount = 1\nkeys = 10\nkey_prefix = \"{prefix}\""
    )]));
    assert_eq!((error.line, error.column), (9, 1), "{error}");
    assert!(error.message.starts_with("key_prefix"), "{error}");
    // An empty prefix is fine: the keys are "0".."9", never empty.
    parse(
        Path::new("ok.toml"),
        &steps(&["action = \"workload\"\nop = \"write\"\ncount = 1\nkeys = 10\nkey_prefix = \"\""]),
        None,
    )
    .unwrap();
}

#[test]
fn rate_out_of_bounds_is_rejected_at_the_rate() {
    for rate in ["1e-30", "0", "0.0", "-5", "inf", "-inf", "nan", "2e6"] {
        let error = parse_error(&steps(&[&format!(
            "action = \"workload\"\nop = \"write\"\ncount = 3\nrate = {rate}"
        )]));
        assert_eq!((error.line, error.column), (8, 1), "rate {rate}: {error}");
        assert!(
            error.message.contains("rate must be"),
            "rate {rate}: {error}"
        );
    }
    // In bounds overall, but each of 100 clients would wait 10,000 s.
    let error = parse_error(&steps(&[
        "action = \"workload\"\nop = \"write\"\nclients = 100\ncount = 3\nrate = 0.01",
    ]));
    assert_eq!((error.line, error.column), (9, 1), "{error}");
    assert!(
        error.message.contains("between one client's requests"),
        "{error}"
    );
    for rate in ["0.01", "1", "250.5", "1000000"] {
        let source = steps(&[&format!(
            "action = \"workload\"\nop = \"write\"\ncount = 3\nrate = {rate}"
        )]);
        parse(Path::new("ok.toml"), &source, None)
            .unwrap_or_else(|error| panic!("rate {rate}: {error}"));
    }
}

#[test]
fn cluster_timings_raft_refuses_are_reported_at_the_cluster_table() {
    let cases = [
        ("heartbeat_ticks = 20", "must exceed heartbeat_ticks"),
        ("heartbeat_ticks = 0", "heartbeat_ticks must be at least 1"),
        (
            "election_timeout_ticks = [30, 30]",
            "election_timeout_ticks[1] (30) must exceed election_timeout_ticks[0] (30)",
        ),
        ("tick_ms = 0", "tick_ms must be at least 1"),
    ];
    for (line, expected) in cases {
        let source = format!(
            "summary = \"s\"\ndescription = \"d\"\n\n[cluster]\nnodes = 3\n{line}\n\n[[step]]\naction = \"wait\"\nuntil = \"leader\"\n"
        );
        let error = parse_error(&source);
        assert_eq!((error.line, error.column), (4, 1), "{line}: {error}");
        assert!(error.message.contains(expected), "{line}: {error}");
    }
}

#[test]
fn duplicate_workload_name_is_rejected_at_the_second_name() {
    let error = parse_error(&steps(&[
        "action = \"workload\"\nname = \"writers\"\nop = \"write\"\nbackground = true",
        "action = \"workload\"\nname = \"writers\"\nop = \"read_local\"\nbackground = true",
    ]));
    // The second step's `[[step]]` is on line 10, its name on line 12.
    assert_eq!((error.line, error.column), (12, 1), "{error}");
    assert!(
        error.message.contains("\"writers\" was started before"),
        "{error}"
    );
    // Background or not, a name is the workload's source in the history.
    let error = parse_error(&steps(&[
        "action = \"workload\"\nname = \"w\"\nop = \"write\"\ncount = 1",
        "action = \"workload\"\nname = \"w\"\nop = \"write\"\ncount = 1",
    ]));
    assert_eq!((error.line, error.column), (12, 1), "{error}");
}

#[test]
fn reserved_workload_names_are_rejected() {
    for name in [raftcache::lab::checks::VERIFY_SOURCE, "script", "step3", ""] {
        let error = parse_error(&steps(&[&format!(
            "action = \"workload\"\nname = \"{name}\"\nop = \"write\"\ncount = 1"
        )]));
        assert_eq!((error.line, error.column), (6, 1), "{name:?}: {error}");
    }
    // Names that only look alike are the user's.
    parse(
        Path::new("ok.toml"),
        &steps(&["action = \"workload\"\nname = \"steps\"\nop = \"write\"\ncount = 1"]),
        None,
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_workload_sends_every_operation() {
    let source = steps(&[
        "action = \"wait\"\nuntil = \"leader\"",
        "action = \"workload\"\nname = \"paced\"\nop = \"write\"\nclients = 2\ncount = 6\nrate = 60\nexpect = \"all_ok\"",
    ]);
    let script = parse(Path::new("paced.toml"), &source, None).unwrap();
    let out = tempfile::tempdir().unwrap();
    let options = RunOptions {
        seed: 3,
        out: out.path().to_path_buf(),
        step_mode: false,
        hold: false,
        base_port: 0,
        control_port: 0,
        verbose: false,
        stop: CancellationToken::new(),
    };
    let lab_run = run(&script, options).await.unwrap();
    let text = std::fs::read_to_string(lab_run.dir.join("report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["passed"], true, "report: {text}");
    assert_eq!(report["operations"]["write"]["ok"], 6, "report: {text}");
    // Six operations at 60 per second take about 100 ms.
    let step_ms = report["steps"][2]["started_ms"]
        .as_f64()
        .unwrap_or(f64::MAX)
        - report["steps"][1]["started_ms"].as_f64().unwrap();
    assert!(step_ms >= 80.0, "paced step took {step_ms} ms: {text}");
}
