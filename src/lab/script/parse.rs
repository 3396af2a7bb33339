//! Reading a script: TOML to [`Script`], every mistake located by line and
//! column, then validated (names, keys, rates, timings) before anything runs.

use super::*;

/// The top level of a script file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScript {
    summary: String,
    description: String,
    #[serde(default)]
    cluster: Option<Spanned<ClusterSpec>>,
    #[serde(default)]
    step: Vec<Spanned<toml::Table>>,
}

/// Finds `labs/<name>.toml`, or takes `name` as a path when it has a slash or ends in `.toml`.
pub fn find(name: &str, labs_dir: &Path) -> PathBuf {
    if name.contains('/') || name.ends_with(".toml") {
        PathBuf::from(name)
    } else {
        labs_dir.join(format!("{name}.toml"))
    }
}

/// Reads and validates a script; `nodes` overrides the cluster size.
pub fn load(path: &Path, nodes: Option<u64>) -> Result<Script, ScriptError> {
    let source = std::fs::read_to_string(path).map_err(|error| ScriptError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        message: format!("cannot read the lab script: {error}"),
    })?;
    parse(path, &source, nodes)
}

/// Parses and validates a script's text.
pub fn parse(path: &Path, source: &str, nodes: Option<u64>) -> Result<Script, ScriptError> {
    let at = |offset: usize, message: String| {
        let (line, column) = line_column(source, offset);
        ScriptError {
            file: path.to_path_buf(),
            line,
            column,
            message,
        }
    };
    let raw: RawScript = toml::from_str(source).map_err(|error| {
        let offset = error.span().map(|span| span.start).unwrap_or(0);
        at(offset, error.message().trim().to_string())
    })?;
    let (mut cluster, cluster_at) = match raw.cluster {
        Some(spanned) => {
            let start = spanned.span().start;
            (spanned.into_inner(), start)
        }
        None => (ClusterSpec::default(), 0),
    };
    cluster
        .validate()
        .map_err(|message| at(cluster_at, format!("[cluster]: {message}")))?;
    if let Some(nodes) = nodes {
        if cluster.fixed_nodes && nodes != cluster.nodes {
            return Err(at(
                0,
                format!(
                    "this lab needs exactly {} nodes; --nodes {nodes} cannot apply",
                    cluster.nodes
                ),
            ));
        }
        cluster.nodes = nodes;
    }
    if !(1..=9).contains(&cluster.nodes) {
        return Err(at(
            0,
            format!("nodes must be 1 to 9, got {}", cluster.nodes),
        ));
    }
    let mut steps = Vec::new();
    let mut bound: BTreeSet<String> = BTreeSet::new();
    let mut marks: BTreeSet<String> = BTreeSet::new();
    let mut workloads: BTreeSet<String> = BTreeSet::new();
    for spanned in raw.step {
        let span = spanned.span();
        let mut table = spanned.into_inner();
        let text = &source[span.clone()];
        let here = |message: String, needle: Option<&str>| {
            let offset = needle.and_then(|needle| locate(text, needle)).unwrap_or(0);
            at(span.start + offset, message)
        };
        let say = match table.remove("say") {
            None => None,
            Some(toml::Value::String(say)) => Some(say),
            Some(other) => {
                return Err(here(
                    format!("`say` must be a string, got {}", other.type_str()),
                    Some("say"),
                ))
            }
        };
        if !table.contains_key("action") {
            return Err(here(
                format!(
                    "this step has no `action`; valid actions: {}",
                    action_names().join(", ")
                ),
                None,
            ));
        }
        let action = Action::deserialize(toml::Value::Table(table.clone())).map_err(|error| {
            let message = error.message().trim().to_string();
            let needle = culprit(&message, &table);
            let message = if message.starts_with("unknown variant") {
                format!("unknown action: {message}")
            } else {
                message
            };
            here(message, needle.as_deref())
        })?;
        validate(&action, &cluster, &bound, &marks, &workloads)
            .map_err(|(message, needle)| here(message, needle.as_deref()))?;
        if let Some(name) = action.binding() {
            bound.insert(name.to_string());
        }
        match &action {
            Action::Mark { name, .. } => {
                marks.insert(name.clone());
            }
            Action::Workload(WorkloadSpec {
                name: Some(name), ..
            }) => {
                workloads.insert(name.clone());
            }
            _ => {}
        }
        steps.push(Step {
            action,
            say,
            line: line_column(source, span.start).0,
        });
    }
    let name = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "lab".into());
    Ok(Script {
        name,
        path: path.to_path_buf(),
        summary: raw.summary.trim().to_string(),
        description: raw.description.trim().to_string(),
        cluster,
        steps,
    })
}

/// Checks what serde cannot: node names, references to marks and workloads.
/// On error, returns the message and the text to point at.
fn validate(
    action: &Action,
    cluster: &ClusterSpec,
    bound: &BTreeSet<String>,
    marks: &BTreeSet<String>,
    workloads: &BTreeSet<String>,
) -> Result<(), (String, Option<String>)> {
    for name in action.node_refs() {
        let is_node = parse_node_name(name).is_some_and(|id| id <= cluster.nodes);
        if !(is_node || ROLES.contains(&name) || bound.contains(name)) {
            let mut choices: Vec<String> = ROLES.iter().map(|role| role.to_string()).collect();
            choices.extend((1..=cluster.nodes).map(node_name));
            choices.extend(bound.iter().cloned());
            return Err((
                format!("unknown node {name:?}; valid nodes: {}", choices.join(", ")),
                Some(format!("\"{name}\"")),
            ));
        }
    }
    let since = match action {
        Action::ExpectElections {
            since: Some(since), ..
        }
        | Action::ExpectTermRise { since, .. }
        | Action::ExpectNoCommit { since, .. } => Some(since),
        _ => None,
    };
    if let Some(since) = since {
        if !marks.contains(since) {
            return Err((
                format!(
                    "no mark named {since:?} before this step; marks so far: {}",
                    list_or_none(marks)
                ),
                Some(format!("\"{since}\"")),
            ));
        }
    }
    match action {
        Action::Stop { workload } | Action::ExpectLatency { workload, .. }
            if !workloads.contains(workload) =>
        {
            Err((
                format!(
                    "no workload named {workload:?} before this step; named workloads: {}",
                    list_or_none(workloads)
                ),
                Some(format!("\"{workload}\"")),
            ))
        }
        Action::ExpectRole { role, .. }
            if !["leader", "follower", "candidate"].contains(&role.as_str()) =>
        {
            Err((
                format!("unknown role {role:?}; valid roles: leader, follower, candidate"),
                Some(format!("\"{role}\"")),
            ))
        }
        Action::Link {
            drop,
            duplicate,
            delay_ms,
            jitter_ms,
            ..
        } => crate::transport::LinkFault {
            drop: *drop,
            delay_ms: *delay_ms,
            jitter_ms: *jitter_ms,
            duplicate: *duplicate,
        }
        .validate()
        .map_err(|message| (message, None)),
        Action::Set { key, .. } | Action::Get { key, .. } | Action::Delete { key, .. } => {
            check_key(key).map_err(|message| (message, Some("key".into())))
        }
        Action::Workload(spec) => {
            if let Some(name) = &spec.name {
                check_workload_name(name, workloads)
                    .map_err(|message| (message, Some("name".into())))?;
            }
            if spec.clients == 0 {
                return Err(("clients must be at least 1".into(), Some("clients".into())));
            }
            if spec.keys == 0 {
                return Err(("keys must be at least 1".into(), Some("keys".into())));
            }
            // The longest key this workload sends: the prefix and the highest number.
            let longest_key = format!("{}{}", spec.key_prefix, spec.keys - 1);
            check_key(&longest_key).map_err(|message| {
                (
                    format!("key_prefix {:?}: {message}", spec.key_prefix),
                    Some("key_prefix".into()),
                )
            })?;
            if let Some(rate) = spec.rate {
                check_rate(rate, spec.clients).map_err(|message| (message, Some("rate".into())))?;
            }
            if spec.background && spec.name.is_none() {
                return Err((
                    "a background workload needs a `name` to stop it by".into(),
                    None,
                ));
            }
            if !spec.background && spec.count.is_none() && spec.duration_ms.is_none() {
                return Err((
                    "a workload needs `count` or `duration_ms` unless it runs in the background"
                        .into(),
                    None,
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A key the API accepts: not empty (`/cache/` is the list route, and a write
/// there is refused), at most [`MAX_KEY_BYTES`] bytes.
fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("the key is empty; the API has no empty key (`/cache/` lists keys)".into());
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "the key is {} bytes; the API accepts at most {MAX_KEY_BYTES}",
            key.len()
        ));
    }
    Ok(())
}

/// A workload name is its operations' source in the history: it must be its own.
fn check_workload_name(name: &str, workloads: &BTreeSet<String>) -> Result<(), String> {
    if name.is_empty() {
        return Err("the workload name is empty".into());
    }
    if RESERVED_WORKLOAD_NAMES.contains(&name) {
        return Err(format!(
            "the workload name {name:?} is reserved for the runner's own operations ({})",
            RESERVED_WORKLOAD_NAMES.join(", ")
        ));
    }
    // The runner names an unnamed workload after its step: `step3`.
    if name
        .strip_prefix("step")
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|byte| byte.is_ascii_digit()))
    {
        return Err(format!(
            "the workload name {name:?} is reserved: unnamed workloads are called `step<N>` after their step"
        ));
    }
    if workloads.contains(name) {
        return Err(format!(
            "a workload named {name:?} was started before; each workload needs its own name"
        ));
    }
    Ok(())
}

/// A rate the clients can pace by: finite, within [`MIN_RATE`, `MAX_RATE`],
/// and each client's interval (`clients / rate`) at most [`MAX_CLIENT_INTERVAL_S`].
fn check_rate(rate: f64, clients: usize) -> Result<(), String> {
    if !rate.is_finite() || !(MIN_RATE..=MAX_RATE).contains(&rate) {
        return Err(format!(
            "rate must be a number of operations per second from {MIN_RATE} to {MAX_RATE}, got {rate:?}; \
             leave it out for closed-loop clients"
        ));
    }
    let interval_s = clients as f64 / rate;
    if interval_s > MAX_CLIENT_INTERVAL_S {
        return Err(format!(
            "rate {rate} over {clients} clients leaves {interval_s:.0} s between one client's requests; \
             at most {MAX_CLIENT_INTERVAL_S} s (raise rate or lower clients)"
        ));
    }
    Ok(())
}

fn list_or_none(names: &BTreeSet<String>) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Every valid `action` value, from serde's own list.
pub fn action_names() -> Vec<String> {
    let error = Action::deserialize(toml::Value::Table(toml::Table::from_iter([(
        "action".to_string(),
        toml::Value::String("?".into()),
    )])))
    .expect_err("`?` is no action");
    let message = error.message().to_string();
    message
        .split("expected one of ")
        .nth(1)
        .unwrap_or("")
        .split(", ")
        .map(|name| name.trim().trim_matches('`').to_string())
        .collect()
}

/// The key a serde message is about, when it can be told.
fn culprit(message: &str, table: &toml::Table) -> Option<String> {
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        // Point at the bad value itself: `action = "explode"`.
        return rest.split('`').next().map(|name| format!("\"{name}\""));
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        return rest.split('`').next().map(str::to_string);
    }
    if message.starts_with("invalid") {
        // serde names the bad value, not its key: find the key holding it.
        return table
            .iter()
            .filter(|(key, _)| *key != "action")
            .find(|(_, value)| {
                let shown = value.to_string();
                message.contains(&shown) || message.contains(&shown.trim_matches('"').to_string())
            })
            .map(|(key, _)| key.clone());
    }
    None
}

/// Offset of `needle` as a key (at a line start) or, failing that, anywhere in `text`.
fn locate(text: &str, needle: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(needle) {
            if rest.trim_start().starts_with('=') {
                return Some(offset + line.len() - trimmed.len());
            }
        }
        offset += line.len();
    }
    text.find(needle)
}

/// 1-based line and column of a byte offset.
fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map(|at| at + 1).unwrap_or(0) + 1;
    (line, column)
}
