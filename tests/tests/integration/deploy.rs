//! The deployment template, the workspace's functions, the state machine and the sample events name the
//! same set of functions: nothing deployed that is not built, nothing built that is not wired.

use std::collections::BTreeSet;

use greenpipe::stages::Stage;
use greenpipe_tests::repo_root;
use serde_yaml::Value;

fn template() -> Value {
    let text = std::fs::read_to_string(repo_root().join("infra/template.yaml")).expect("infra/template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

/// `validate-dataset` -> `ValidateDataset`.
fn pascal(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => &t.value,
        other => other,
    }
}

/// `(logical id, resource)` of every resource of `kind`.
fn resources<'t>(t: &'t Value, kind: &str) -> Vec<(String, &'t Value)> {
    t["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(k, r)| (k.as_str().unwrap().to_string(), r))
        .collect()
}

fn workspace_functions() -> BTreeSet<String> {
    greenpipe_tests::workspace_functions()
}

/// Function name (crate directory) of each template function, from its CodeUri.
fn template_functions(t: &Value) -> Vec<(String, String)> {
    resources(t, "AWS::Serverless::Function")
        .into_iter()
        .map(|(id, r)| {
            let uri = r["Properties"]["CodeUri"]
                .as_str()
                .unwrap_or_else(|| panic!("{id}: CodeUri"));
            let name = uri
                .strip_prefix("../functions/")
                .unwrap_or_else(|| panic!("{id}: CodeUri {uri}"));
            assert_eq!(
                id,
                format!("{}Function", pascal(name)),
                "logical id follows the crate name"
            );
            (id, name.to_string())
        })
        .collect()
}

fn placeholders(definition: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = definition;
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').expect("closed placeholder") + start;
        out.insert(rest[start + 2..end].to_string());
        rest = &rest[end + 1..];
    }
    out
}

#[test]
fn template_workspace_and_state_machine_name_the_same_functions() {
    let t = template();
    let deployed: BTreeSet<String> = template_functions(&t).into_iter().map(|(_, n)| n).collect();
    let built = workspace_functions();
    assert_eq!(deployed, built, "infra/template.yaml functions vs functions/*");
    // The stage table the code reads (guards, role checks, local runs) names them too: a stage missing
    // from `Stage::ALL` would be skipped silently everywhere.
    let staged: BTreeSet<String> = Stage::ALL.iter().map(|s| s.name().to_string()).collect();
    assert_eq!(staged, built, "greenpipe::stages::Stage::ALL vs functions/*");
    for s in Stage::ALL {
        assert!(
            template_functions(&t)
                .iter()
                .any(|(id, _)| *id == s.function_id()),
            "no {} in infra/template.yaml",
            s.function_id()
        );
    }

    let machines = resources(&t, "AWS::Serverless::StateMachine");
    assert_eq!(machines.len(), 1, "one state machine");
    let props = &machines[0].1["Properties"];
    let uri = props["DefinitionUri"].as_str().expect("DefinitionUri");
    let definition_path = repo_root().join("infra").join(uri);
    let definition = std::fs::read_to_string(&definition_path)
        .unwrap_or_else(|e| panic!("{}: {e}", definition_path.display()));
    let substitutions: BTreeSet<String> = props["DefinitionSubstitutions"]
        .as_mapping()
        .expect("DefinitionSubstitutions")
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        placeholders(&definition),
        substitutions,
        "${{...}} in {uri} vs DefinitionSubstitutions"
    );

    // Every substitution that names a function points at that function's ARN.
    for (key, value) in props["DefinitionSubstitutions"].as_mapping().unwrap() {
        let key = key.as_str().unwrap();
        if let Some(stem) = key.strip_suffix("FunctionArn") {
            let target = untag(value).as_str().expect("!GetAtt X.Arn");
            assert_eq!(target, format!("{stem}Function.Arn"), "{key}");
        }
    }

    // Wired: in the state machine, or started by an event source of its own (a schedule, uploads).
    let in_machine: BTreeSet<String> = substitutions
        .iter()
        .filter_map(|k| k.strip_suffix("FunctionArn"))
        .map(|stem| stem.to_string())
        .collect();
    for (id, name) in template_functions(&t) {
        let function = &t["Resources"][id.as_str()];
        let has_events = function["Properties"]["Events"]
            .as_mapping()
            .is_some_and(|m| !m.is_empty());
        assert!(
            in_machine.contains(&pascal(&name)) || has_events,
            "{name} is built and deployed but nothing invokes it"
        );
    }
    for stem in &in_machine {
        assert!(
            built.iter().any(|n| &pascal(n) == stem),
            "the state machine invokes {stem}, which is not in functions/"
        );
    }
}

#[test]
fn every_function_is_arm64_cargo_lambda_with_a_retained_log_group() {
    let t = template();
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(globals["Architectures"][0].as_str(), Some("arm64"));
    assert_eq!(globals["Handler"].as_str(), Some("bootstrap"));
    for (id, _) in template_functions(&t) {
        let f = &t["Resources"][id.as_str()];
        assert_eq!(
            f["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{id}"
        );
        assert!(
            f["Properties"].get("Runtime").is_none(),
            "{id}: runtime comes from Globals"
        );
        assert!(
            f["Properties"].get("Architectures").is_none(),
            "{id}: arm64 comes from Globals"
        );
        assert_eq!(
            f["Properties"]["LoggingConfig"]["LogFormat"].as_str(),
            Some("JSON"),
            "{id}"
        );
        let name = format!("/aws/lambda/${{{id}}}");
        let log = resources(&t, "AWS::Logs::LogGroup")
            .into_iter()
            .find(|(_, g)| untag(&g["Properties"]["LogGroupName"]).as_str() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("{id}: no log group named {name}"));
        assert!(
            !log.1["Properties"]["RetentionInDays"].is_null(),
            "{} has a retention",
            log.0
        );
        let memory = f["Properties"]["MemorySize"]
            .as_u64()
            .or(globals["MemorySize"].as_u64());
        assert!(
            memory.is_some_and(|m| (128..=1769).contains(&m)),
            "{id}: right-sized memory"
        );
    }
}

#[test]
fn every_function_has_a_sample_event() {
    let events = greenpipe_tests::sample_events();
    let dir = repo_root().join("events");
    for (file, _) in &events {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    let covered: BTreeSet<String> = events.iter().map(|(_, f)| f.clone()).collect();
    assert_eq!(covered, workspace_functions(), "functions with a sample event");
}
