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
