use super::*;

fn rules(src: &str) -> Vec<Rule> {
    match parse(src) {
        Ok(rs) => rs.rules,
        Err(e) => panic!("parse failed for {src:?}: {e}"),
    }
}

fn one(rule: &str) -> Rule {
    let mut rs = rules(&format!("Rules = [ {rule} ]"));
    assert_eq!(rs.len(), 1, "{rule}");
    rs.remove(0)
}

fn err(src: &str) -> DqdlError {
    match parse(src) {
        Ok(rs) => panic!("expected an error for {src:?}, got {rs:?}"),
        Err(e) => e,
    }
}

fn rule_err(rule: &str) -> DqdlError {
    err(&format!("Rules = [ {rule} ]"))
}

/// The rule is rejected as unsupported and the error names `feature`.
fn assert_unsupported(rule: &str, feature: &str) {
    match rule_err(rule) {
        DqdlError::Unsupported {
            feature: f,
            rule: text,
            ..
        } => {
            assert!(f.contains(feature), "feature {f:?} should name {feature:?}");
            assert!(!text.is_empty());
        }
        e => panic!("expected Unsupported for {rule:?}, got {e}"),
    }
}

fn assert_syntax(rule: &str, needle: &str) {
    match rule_err(rule) {
        DqdlError::Syntax { message, .. } => {
            assert!(
                message.contains(needle),
                "message {message:?} should contain {needle:?}"
            )
        }
        e => panic!("expected a syntax error for {rule:?}, got {e}"),
    }
}

fn s(x: &str) -> Literal {
    Literal::String(x.into())
}

#[test]
fn every_rule_type() {
    assert_eq!(
        one("RowCount > 10"),
        Rule::RowCount(NumExpr::Cmp(CmpOp::Gt, 10.0))
    );
    assert_eq!(
        one("RowCount between 1 and 1000"),
        Rule::RowCount(NumExpr::Between(1.0, 1000.0))
    );
    assert_eq!(
        one("ColumnCount = 8"),
        Rule::ColumnCount(NumExpr::Cmp(CmpOp::Eq, 8.0))
    );
    assert_eq!(
        one("ColumnExists \"order_id\""),
        Rule::ColumnExists("order_id".into())
    );
    assert_eq!(
        one("IsComplete \"order-id\""),
        Rule::IsComplete("order-id".into())
    );
    assert_eq!(
        one("Completeness \"email\" >= 0.95"),
        Rule::Completeness("email".into(), NumExpr::Cmp(CmpOp::Ge, 0.95))
    );
    assert_eq!(one("IsUnique \"id\""), Rule::IsUnique("id".into()));
    assert_eq!(
        one("Uniqueness \"id\" = 1.0"),
        Rule::Uniqueness("id".into(), NumExpr::Cmp(CmpOp::Eq, 1.0))
    );
    assert_eq!(
        one("Uniqueness \"id\" != 1"),
        Rule::Uniqueness("id".into(), NumExpr::Cmp(CmpOp::Ne, 1.0))
    );
    assert_eq!(one("IsPrimaryKey \"id\""), Rule::IsPrimaryKey(vec!["id".into()]));
    assert_eq!(
        one("IsPrimaryKey \"a\" \"b\" \"c\""),
        Rule::IsPrimaryKey(vec!["a".into(), "b".into(), "c".into()])
    );
    // AWS also accepts bare column names.
    assert_eq!(
        one("IsPrimaryKey colA \"colB\""),
        Rule::IsPrimaryKey(vec!["colA".into(), "colB".into()])
    );
    assert_eq!(one("IsComplete my_col.x"), Rule::IsComplete("my_col.x".into()));
    assert_eq!(
        one("ColumnLength \"zip\" = 5"),
        Rule::ColumnLength {
            column: "zip".into(),
            expr: NumExpr::Cmp(CmpOp::Eq, 5.0),
            threshold: None
        }
    );
    assert_eq!(
        one("ColumnLength \"name\" between 1 and 64 with threshold >= 0.99"),
        Rule::ColumnLength {
            column: "name".into(),
            expr: NumExpr::Between(1.0, 64.0),
            threshold: Some(NumExpr::Cmp(CmpOp::Ge, 0.99)),
        }
    );
    assert_eq!(
        one("ColumnDataType \"colA\" = \"INTEGER\""),
        Rule::ColumnDataType {
            column: "colA".into(),
            ty: DqdlType::Integer,
            threshold: None
        }
    );
    assert_eq!(
        one("ColumnDataType \"colA\" = \"Timestamp\" with threshold > 0.9"),
        Rule::ColumnDataType {
            column: "colA".into(),
            ty: DqdlType::Timestamp,
            threshold: Some(NumExpr::Cmp(CmpOp::Gt, 0.9)),
        }
    );
}

#[test]
fn data_type_names_are_case_insensitive() {
    for (name, ty) in [
        ("boolean", DqdlType::Boolean),
        ("Date", DqdlType::Date),
        ("TIMESTAMP", DqdlType::Timestamp),
        ("Integer", DqdlType::Integer),
        ("double", DqdlType::Double),
        ("Float", DqdlType::Float),
        ("LONG", DqdlType::Long),
        ("String", DqdlType::String),
    ] {
        let rule = one(&format!("ColumnDataType \"c\" = \"{name}\""));
        assert_eq!(
            rule,
            Rule::ColumnDataType {
                column: "c".into(),
                ty,
                threshold: None
            }
        );
    }
    assert_syntax("ColumnDataType \"c\" = \"Short\"", "unknown data type \"Short\"");
}

#[test]
fn column_values_expressions() {
    let cv = |expr: ValueExpr| Rule::ColumnValues {
        column: "c".into(),
        expr,
        threshold: None,
    };
    assert_eq!(
        one("ColumnValues \"c\" = 5"),
        cv(ValueExpr::Cmp(CmpOp::Eq, Literal::Number(5.0)))
    );
    assert_eq!(
        one("ColumnValues \"c\" != \"a\""),
        cv(ValueExpr::Cmp(CmpOp::Ne, s("a")))
    );
    assert_eq!(
        one("ColumnValues \"c\" ! = \"a\""),
        cv(ValueExpr::Cmp(CmpOp::Ne, s("a")))
    );
    assert_eq!(
        one("ColumnValues \"c\" > -1.5"),
        cv(ValueExpr::Cmp(CmpOp::Gt, Literal::Number(-1.5)))
    );
    assert_eq!(
        one("ColumnValues \"c\" >= 0"),
        cv(ValueExpr::Cmp(CmpOp::Ge, Literal::Number(0.0)))
    );
    assert_eq!(
        one("ColumnValues \"c\" < \"2022-06-30\""),
        cv(ValueExpr::Cmp(CmpOp::Lt, s("2022-06-30")))
    );
    assert_eq!(
        one("ColumnValues \"c\" <= 1000"),
        cv(ValueExpr::Cmp(CmpOp::Le, Literal::Number(1000.0)))
    );
    assert_eq!(
        one("ColumnValues \"c\" between 1 and 2000"),
        cv(ValueExpr::Between(Literal::Number(1.0), Literal::Number(2000.0)))
    );
    assert_eq!(
        one("ColumnValues \"c\" not between \"2022-05-31\" and \"2022-06-30\""),
        cv(ValueExpr::NotBetween(s("2022-05-31"), s("2022-06-30")))
    );
    assert_eq!(
        one("ColumnValues \"c\" in [ \"US\", \"CA\", \"UK\", NULL, EMPTY, WHITESPACES_ONLY ]"),
        cv(ValueExpr::In(vec![
            s("US"),
            s("CA"),
            s("UK"),
            Literal::Null,
            Literal::Empty,
            Literal::WhitespacesOnly
        ]))
    );
    assert_eq!(
        one("ColumnValues \"c\" not in [21, 22, 23, null]"),
        cv(ValueExpr::NotIn(vec![
            Literal::Number(21.0),
            Literal::Number(22.0),
            Literal::Number(23.0),
            Literal::Null
        ]))
    );
    assert_eq!(
        one("ColumnValues \"c\" = empty"),
        cv(ValueExpr::Cmp(CmpOp::Eq, Literal::Empty))
    );
    assert_eq!(
        one("ColumnValues \"c\" != whitespaces_only"),
        cv(ValueExpr::Cmp(CmpOp::Ne, Literal::WhitespacesOnly))
    );
    assert_eq!(
        one("ColumnValues \"c\" = NULL"),
        cv(ValueExpr::Cmp(CmpOp::Eq, Literal::Null))
    );
    assert_eq!(
        one("ColumnValues \"c\" matches \"[a-zA-Z]*\""),
        cv(ValueExpr::Matches("[a-zA-Z]*".into()))
    );
    assert_eq!(
        one("ColumnValues \"c\" not matches \"^x\""),
        cv(ValueExpr::NotMatches("^x".into()))
    );
    assert_eq!(
        one("ColumnValues \"c\" in [\"A\", \"B\"] with threshold > 0.8"),
        Rule::ColumnValues {
            column: "c".into(),
            expr: ValueExpr::In(vec![s("A"), s("B")]),
            threshold: Some(NumExpr::Cmp(CmpOp::Gt, 0.8)),
        }
    );
    assert_eq!(
        one("ColumnValues \"c\" matches \"[a-z]*\" with threshold between 0.2 and 0.9"),
        Rule::ColumnValues {
            column: "c".into(),
            expr: ValueExpr::Matches("[a-z]*".into()),
            threshold: Some(NumExpr::Between(0.2, 0.9)),
        }
    );
}

#[test]
fn numeric_expressions() {
    let rc = |src: &str| match one(&format!("RowCount {src}")) {
        Rule::RowCount(e) => e,
        r => panic!("{r:?}"),
    };
    assert_eq!(rc("= 3"), NumExpr::Cmp(CmpOp::Eq, 3.0));
    assert_eq!(rc("!= 3"), NumExpr::Cmp(CmpOp::Ne, 3.0));
    assert_eq!(rc("> -3"), NumExpr::Cmp(CmpOp::Gt, -3.0));
    assert_eq!(rc(">= 3.25"), NumExpr::Cmp(CmpOp::Ge, 3.25));
    assert_eq!(rc("< 3"), NumExpr::Cmp(CmpOp::Lt, 3.0));
    assert_eq!(rc("<= 3"), NumExpr::Cmp(CmpOp::Le, 3.0));
    assert_eq!(rc("between -1 and 1"), NumExpr::Between(-1.0, 1.0));
    assert_eq!(rc("BETWEEN 1 AND 2"), NumExpr::Between(1.0, 2.0));
    assert_eq!(rc("not between 1 and 2"), NumExpr::NotBetween(1.0, 2.0));
    assert_eq!(rc("in [1, 2, 3]"), NumExpr::In(vec![1.0, 2.0, 3.0]));
    assert_eq!(rc("not in [0]"), NumExpr::NotIn(vec![0.0]));
    assert_eq!(rc("between 5 and 5"), NumExpr::Between(5.0, 5.0));
}

#[test]
fn composites_and_nesting() {
    let a = Rule::IsComplete("id".into());
    let b = Rule::IsUnique("id".into());
    let c = Rule::RowCount(NumExpr::Cmp(CmpOp::Gt, 0.0));
    assert_eq!(
        one("(IsComplete \"id\") and (IsUnique \"id\")"),
        Rule::And(vec![a.clone(), b.clone()])
    );
    assert_eq!(
        one("(IsComplete \"id\") AND (IsUnique \"id\")"),
        Rule::And(vec![a.clone(), b.clone()])
    );
    assert_eq!(
        one("(IsComplete \"id\") OR (IsUnique \"id\")"),
        Rule::Or(vec![a.clone(), b.clone()])
    );
    assert_eq!(
        one("(IsComplete \"id\") and (IsUnique \"id\") and (RowCount > 0)"),
        Rule::And(vec![a.clone(), b.clone(), c.clone()])
    );
    assert_eq!(
        one("(RowCount > 0) or ((IsComplete \"id\") and (IsUnique \"id\"))"),
        Rule::Or(vec![c.clone(), Rule::And(vec![a.clone(), b.clone()])])
    );
    assert_eq!(
        one("((RowCount > 0) or (IsComplete \"id\")) and (IsUnique \"id\")"),
        Rule::And(vec![Rule::Or(vec![c.clone(), a.clone()]), b.clone()])
    );
    // Redundant parentheses around a single rule.
    assert_eq!(one("((IsComplete \"id\"))"), a.clone());
    // Thresholds inside composites.
    assert_eq!(
        one("(ColumnValues \"age\" > 21 with threshold > 0.5) or (ColumnValues \"age\" = NULL)"),
        Rule::Or(vec![
            Rule::ColumnValues {
                column: "age".into(),
                expr: ValueExpr::Cmp(CmpOp::Gt, Literal::Number(21.0)),
                threshold: Some(NumExpr::Cmp(CmpOp::Gt, 0.5)),
            },
            Rule::ColumnValues {
                column: "age".into(),
                expr: ValueExpr::Cmp(CmpOp::Eq, Literal::Null),
                threshold: None,
            },
        ])
    );
    assert_syntax("IsComplete \"id\" and IsUnique \"id\"", "must be in parentheses");
    assert_syntax(
        "(IsComplete \"id\") and IsUnique \"id\"",
        "must be in parentheses",
    );
    assert_syntax(
        "(IsComplete \"id\") and (IsUnique \"id\") or (RowCount > 0)",
        "mixing `and` and `or`",
    );
    assert_syntax("(IsComplete \"id\" and (IsUnique \"id\")", "parentheses");
    assert_syntax("(IsComplete \"id\"", "expected `)`");
    // Deep nesting is an error, not a stack overflow.
    let deep = format!("{}IsComplete \"a\"{}", "(".repeat(100_000), ")".repeat(100_000));
    assert_syntax(&deep, "nest deeper than 32 levels");
    let ok = format!("{}IsComplete \"a\"{}", "(".repeat(32), ")".repeat(32));
    assert_eq!(one(&ok), Rule::IsComplete("a".into()));
}

#[test]
fn comments_whitespace_and_layout() {
    let src = "# a ruleset\r\nRules = [\n\t# completeness first\n   IsComplete \"a\", // trailing\n\n\
               RowCount>0,IsUnique\"a\" ,\n]\n# end\n";
    assert_eq!(
        rules(src),
        vec![
            Rule::IsComplete("a".into()),
            Rule::RowCount(NumExpr::Cmp(CmpOp::Gt, 0.0)),
            Rule::IsUnique("a".into())
        ]
    );
    // `#` inside a string is not a comment.
    assert_eq!(one("ColumnValues \"c\" = \"#1 // x\""), {
        Rule::ColumnValues {
            column: "c".into(),
            expr: ValueExpr::Cmp(CmpOp::Eq, s("#1 // x")),
            threshold: None,
        }
    });
    // Metadata is accepted (it only tags the ruleset).
    assert_eq!(
        rules("Metadata = { \"Version\": \"1.0\", \"Tags\": [\"a\", \"b\"] }\nRules = [ IsComplete \"a\" ]"),
        vec![Rule::IsComplete("a".into())]
    );
}

#[test]
fn quoted_strings_and_escapes() {
    assert_eq!(
        one(r#"IsComplete "say \"hi\"""#),
        Rule::IsComplete("say \"hi\"".into())
    );
    assert_eq!(one(r#"IsComplete "a\\b""#), Rule::IsComplete("a\\b".into()));
    assert_eq!(one(r#"IsComplete "a\b""#), Rule::IsComplete("a\\b".into()));
    assert_eq!(
        one("IsComplete \"größe 名前\""),
        Rule::IsComplete("größe 名前".into())
    );
    // Regex patterns reach the regex engine as written (only \" is unescaped), as in AWS.
    let re = |r: &str| match one(&format!("ColumnValues \"c\" matches {r}")) {
        Rule::ColumnValues {
            expr: ValueExpr::Matches(re),
            ..
        } => re,
        x => panic!("{x:?}"),
    };
    assert_eq!(re(r#""\d{3}-\d{4}""#), r"\d{3}-\d{4}");
    assert_eq!(re(r#""a\\.b""#), r"a\\.b");
    assert_eq!(re(r#""\"quoted\"""#), "\"quoted\"");
    assert_syntax("IsComplete \"\"", "column name is empty");
}

#[test]
fn unsupported_rules_are_named() {
    for (rule, feature) in [
        (
            "CustomSql \"select count(*) from primary\" between 10 and 20",
            "CustomSql",
        ),
        ("CustomSQL \"select count(*) from primary\" > 0", "CustomSQL"),
        ("Mean \"Star_Rating\" > 3", "Mean"),
        ("DataFreshness \"Order_Date\" <= 24 hours", "DataFreshness"),
        (
            "ReferentialIntegrity \"id\" \"ref.{id}\" = 1.0",
            "ReferentialIntegrity",
        ),
        ("Sum \"amount\" > 0", "Sum"),
        ("StandardDeviation \"x\" < 3", "StandardDeviation"),
        ("Entropy \"x\" > 1", "Entropy"),
        ("DistinctValuesCount \"x\" > 3", "DistinctValuesCount"),
        ("ColumnCorrelation \"a\" \"b\" > 0.5", "ColumnCorrelation"),
        ("DatasetMatch \"ref\" \"id->id\" >= 0.9", "DatasetMatch"),
        ("SchemaMatch \"ref\" = 1.0", "SchemaMatch"),
        ("RowCountMatch \"ref\" = 1.0", "RowCountMatch"),
        (
            "AggregateMatch \"sum(a)\" \"sum(ref.a)\" >= 0.9",
            "AggregateMatch",
        ),
        ("ColumnNamesMatchPattern \"^[a-z_]+$\"", "ColumnNamesMatchPattern"),
        ("UniqueValueRatio \"x\" > 0.5", "UniqueValueRatio"),
        ("DetectAnomalies \"RowCount\"", "DetectAnomalies"),
        ("FileFreshness \"s3://b/p\" > (now() - 3 days)", "FileFreshness"),
        ("RowCount > last()", "last()"),
        ("RowCount > avg(last(3))", "avg(last(3))"),
        (
            "Completeness \"colA\" between min(last(5)) - 1 and max(last(5)) + 1",
            "min(last(5))",
        ),
        (
            "ColumnValues \"Load_Date\" > (now() - 3 days)",
            "(now() - 3 days)",
        ),
        ("ColumnValues \"Load_Date\" >= now()", "now()"),
        ("ColumnValues \"c\" in [\"a\", now()]", "now()"),
        ("RowCount > 10 * 2", "10 * 2"),
        ("RowCount > (5 + 5)", "(5 + 5)"),
        ("IsComplete \"att2\" where \"att1 = 'a'\"", "where"),
        (
            "ColumnValues \"b\" in [\"A\", \"B\"] where \"c is not null\" with threshold > 0.9",
            "where",
        ),
        (
            "ColumnValues \"b\" in [\"A\"] with threshold > 0.9 where \"c > 1\"",
            "where",
        ),
        ("RowCount > 0 labels=[\"foo\"=\"bar\"]", "labels"),
        ("ColumnValues \"c\" in $allowed", "$allowed"),
        ("ColumnValues \"c\" = $x", "$x"),
        (
            "IsUnique \"vendorid\" \"tpep_pickup_datetime\"",
            "IsUnique over several columns",
        ),
        ("Uniqueness \"a\" \"b\" = 1", "Uniqueness over several columns"),
        (
            "ColumnDataType \"c\" in [\"INTEGER\", \"LONG\"]",
            "ColumnDataType with `in`",
        ),
        ("ColumnDataType \"c\" != \"STRING\"", "ColumnDataType with `!=`"),
        ("ColumnValues \"c\" > 0 with tag = \"x\"", "`with tag`"),
        // Unsupported rules are named even inside composites.
        ("(IsComplete \"a\") and (Mean \"x\" > 1)", "Mean"),
    ] {
        assert_unsupported(rule, feature);
    }
    for (doc, feature) in [
        (
            "mySql = \"select 1\"\nRules = [ RowCount > 0 ]",
            "constant declaration `mySql",
        ),
        (
            "DataSources = { \"Primary\": \"x\" } Rules = [ RowCount > 0 ]",
            "DataSources",
        ),
        ("Rules = [ RowCount > 0 ]\nAnalyzers = [ RowCount ]", "Analyzers"),
        ("Analyzers = [ RowCount ]", "Analyzers"),
        ("DefaultLabels=[\"f\"=\"m\"]\nRules = [ RowCount > 0 ]", "labels"),
    ] {
        match err(doc) {
            DqdlError::Unsupported { feature: f, .. } => assert!(f.contains(feature), "{f} / {feature}"),
            e => panic!("{doc}: {e}"),
        }
    }
}

#[test]
fn unsupported_error_carries_rule_text_and_position() {
    let e = err(
        "Rules = [\n  IsComplete \"a\",\n  (RowCount > 0) and (CustomSql \"select 1\" = 1),\n  \
                 IsUnique \"a\"\n]",
    );
    match &e {
        DqdlError::Unsupported {
            line,
            column,
            feature,
            rule,
        } => {
            assert_eq!((*line, *column), (3, 23));
            assert_eq!(feature, "rule type `CustomSql`");
            assert_eq!(rule, "(RowCount > 0) and (CustomSql \"select 1\" = 1)");
        }
        e => panic!("{e}"),
    }
    assert!(e
        .to_string()
        .starts_with("line 3, column 23: rule type `CustomSql` is not supported"));
}

#[test]
fn syntax_errors_have_positions_and_rule_text() {
    let e = err("Rules = [\n    RowCount > 10,\n    ColumnValues \"age\" between 0 and\n]");
    assert_eq!((e.line(), e.column()), (4, 1));
    let msg = e.to_string();
    assert!(msg.contains("expected a value"), "{msg}");
    assert!(
        msg.contains("in rule `ColumnValues \"age\" between 0 and`"),
        "{msg}"
    );

    let e = err("Rules = [ RowCount > abc ]");
    assert_eq!((e.line(), e.column()), (1, 22));
    assert!(e.to_string().contains("expected a number, found `abc`"), "{e}");
    assert!(e.to_string().contains("(in rule `RowCount > abc`)"), "{e}");

    // Missing comma between rules: the message says so.
    let e = err("Rules = [\n  IsComplete \"a\"\n  IsUnique \"a\"\n]");
    assert_eq!((e.line(), e.column()), (3, 3));
    assert!(e.to_string().contains("expected `,` between rules"), "{e}");

    // Columns are counted in characters, not bytes.
    let e = err("Rules = [ IsComplete \"é\" ? ]");
    assert_eq!((e.line(), e.column()), (1, 26));
    assert!(e.to_string().contains("unexpected character '?'"), "{e}");

    let e = err("Rules = [ IsComplete \"abc ]");
    assert_eq!((e.line(), e.column()), (1, 22));
    assert!(e.to_string().contains("unterminated string"), "{e}");
}

#[test]
fn document_level_errors() {
    assert!(err("")
        .to_string()
        .contains("expected `Rules = [ ... ]`, found end of input"));
    assert!(err("IsComplete \"a\"")
        .to_string()
        .contains("expected `Rules = [ ... ]`"));
    assert!(err("rules = [ IsComplete \"a\" ]")
        .to_string()
        .contains("case sensitive"));
    assert!(err("Rules = [ ]").to_string().contains("no rules"));
    assert!(err("Rules [ IsComplete \"a\" ]")
        .to_string()
        .contains("expected `=` after Rules"));
    assert!(err("Rules = [ IsComplete \"a\"")
        .to_string()
        .contains("expected `]`"));
    assert!(err("Rules = [ IsComplete \"a\" ] x")
        .to_string()
        .contains("after the closing `]`"));
    assert!(err("Rules = [ IsComplete \"a\", , ]")
        .to_string()
        .contains("expected a rule type"));
}

#[test]
fn invalid_rules_are_explained() {
    assert_syntax("iscomplete \"a\"", "did you mean `IsComplete`?");
    assert_syntax("IsComplet \"a\"", "unknown rule type `IsComplet`");
    assert_syntax("RowCount \"id\" > 100", "RowCount takes no column name");
    assert_syntax("IsComplete", "IsComplete needs a column name");
    assert_syntax("IsComplete \"a\" \"b\"", "exactly one column name");
    assert_syntax("IsPrimaryKey", "at least one column");
    assert_syntax("RowCount", "expected a condition after RowCount");
    assert_syntax("RowCount > 1 with threshold > 0.5", "`with threshold` applies to");
    assert_syntax("IsComplete \"a\" with threshold > 0.5", "not IsComplete");
    assert_syntax(
        "ColumnValues \"c\" > 1 with threshold > 90",
        "fraction between 0 and 1",
    );
    assert_syntax("Completeness \"c\" > 95", "fraction between 0 and 1");
    assert_syntax("Uniqueness \"c\" between 0.5 and 2", "fraction between 0 and 1");
    assert_syntax(
        "RowCount between 10 and 1",
        "lower bound is above the upper bound",
    );
    assert_syntax(
        "ColumnValues \"c\" between 10 and 1",
        "lower bound is above the upper bound",
    );
    assert_syntax(
        "ColumnValues \"c\" between \"b\" and \"a\"",
        "lower bound is above the upper bound",
    );
    assert_syntax(
        "ColumnValues \"c\" between 1 and \"z\"",
        "both be numbers or both be quoted strings",
    );
    assert_syntax(
        "ColumnValues \"c\" > NULL",
        "can only be used with =, !=, in and not in",
    );
    assert_syntax(
        "ColumnValues \"c\" between EMPTY and \"z\"",
        "can only be used with",
    );
    assert_syntax("ColumnValues \"c\" in []", "the list is empty");
    assert_syntax("ColumnValues \"c\" in [1, 2 3]", "`,` or `]` in the list");
    assert_syntax(
        "ColumnValues \"c\" matches \"(abc\"",
        "invalid regular expression \"(abc\"",
    );
    assert_syntax(
        "ColumnValues \"c\" matches 5",
        "expected a quoted regular expression",
    );
    assert_syntax("ColumnValues \"c\" not equals 5", "after `not`");
    assert_syntax("ColumnValues \"c\" = true", "expected a value");
    assert_syntax(
        "ColumnLength \"c\" matches \"x\"",
        "`matches` applies to ColumnValues",
    );
    assert_syntax("ColumnDataType \"c\" \"INTEGER\"", "exactly one column name");
    assert_syntax("ColumnDataType \"c\" > 3", "expected `= \"TYPE\"`");
    assert_syntax("RowCount > 1.", "unexpected character '.'");
    assert_syntax("RowCount > 99999999999999999999999999999999999999999999999999999999999999999999999999999999\
                   999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999\
                   999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999\
                   999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999",
                   "too large");
    assert_syntax("RowCount > 1 with", "expected `threshold` after `with`");
}

#[test]
fn display_is_canonical() {
    for (input, canonical) in [
        ("RowCount>10", "RowCount > 10"),
        ("RowCount between 1 and 1000.5", "RowCount between 1 and 1000.5"),
        ("RowCount not in [1,2]", "RowCount not in [1, 2]"),
        ("ColumnCount != -3", "ColumnCount != -3"),
        ("Completeness \"a\" >= 0.950", "Completeness \"a\" >= 0.95"),
        ("Uniqueness \"a\" = 1.0", "Uniqueness \"a\" = 1"),
        ("IsPrimaryKey a \"b\"", "IsPrimaryKey \"a\" \"b\""),
        (
            "ColumnValues \"c\" in [\"US\",NULL , empty,whitespaces_only]",
            "ColumnValues \"c\" in [\"US\", NULL, EMPTY, WHITESPACES_ONLY]",
        ),
        ("ColumnValues \"c\" ! = \"x\"", "ColumnValues \"c\" != \"x\""),
        (
            "ColumnValues \"c\" matches \"\\d+\\\"\" with threshold>0.9",
            "ColumnValues \"c\" matches \"\\d+\\\"\" with threshold > 0.9",
        ),
        (
            "ColumnValues \"say \\\"hi\\\"\" = \"a\\\\b\"",
            "ColumnValues \"say \\\"hi\\\"\" = \"a\\\\b\"",
        ),
        (
            "ColumnDataType \"c\" = \"integer\"",
            "ColumnDataType \"c\" = \"INTEGER\"",
        ),
        (
            "ColumnLength \"c\" <= 5 with threshold BETWEEN 0.1 AND 1",
            "ColumnLength \"c\" <= 5 with threshold between 0.1 and 1",
        ),
        (
            "(IsComplete \"a\") AND ((RowCount > 0) OR (IsUnique \"a\"))",
            "(IsComplete \"a\") and ((RowCount > 0) or (IsUnique \"a\"))",
        ),
        ("((IsComplete \"a\"))", "IsComplete \"a\""),
    ] {
        let rule = one(input);
        assert_eq!(rule.to_string(), canonical, "{input}");
        assert_eq!(one(canonical), rule, "{canonical}");
    }
    let rs = parse("Rules = [ IsComplete \"a\", RowCount > 0 ]").unwrap();
    assert_eq!(
        rs.to_string(),
        "Rules = [\n    IsComplete \"a\",\n    RowCount > 0\n]\n"
    );
    assert_eq!(parse(&rs.to_string()).unwrap(), rs);
}

/// Deterministic pseudo-random rules: `parse(display(r)) == r` for all of them.
#[test]
fn display_parse_round_trip_generated() {
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn num(&mut self) -> f64 {
            match self.below(4) {
                0 => self.below(1000) as f64,
                1 => -(self.below(1000) as f64) / 8.0,
                2 => self.below(1_000_000_007) as f64 / 1000.0,
                _ => (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 1e12,
            }
        }
        fn frac(&mut self) -> f64 {
            self.below(1001) as f64 / 1000.0
        }
        fn string(&mut self) -> String {
            const ALPHABET: &[&str] = &[
                "a", "Z", "_", " ", "\"", "\\", "#", ",", "]", "é", "名", "-", "9", "/",
            ];
            (0..1 + self.below(8))
                .map(|_| ALPHABET[self.below(ALPHABET.len() as u64) as usize])
                .collect()
        }
        fn sorted_pair(&mut self) -> (f64, f64) {
            let (a, b) = (self.num(), self.num());
            if a <= b {
                (a, b)
            } else {
                (b, a)
            }
        }
        fn num_expr(&mut self, fraction: bool) -> NumExpr {
            let ops = [CmpOp::Eq, CmpOp::Ne, CmpOp::Gt, CmpOp::Ge, CmpOp::Lt, CmpOp::Le];
            match self.below(5) {
                0 => {
                    let x = if fraction { self.frac() } else { self.num() };
                    NumExpr::Cmp(ops[self.below(6) as usize], x)
                }
                1 | 2 => {
                    let (a, b) = if fraction {
                        let (a, b) = (self.frac(), self.frac());
                        (a.min(b), a.max(b))
                    } else {
                        self.sorted_pair()
                    };
                    if self.below(2) == 0 {
                        NumExpr::Between(a, b)
                    } else {
                        NumExpr::NotBetween(a, b)
                    }
                }
                _ => {
                    let n = 1 + self.below(4);
                    let items: Vec<f64> = (0..n)
                        .map(|_| if fraction { self.frac() } else { self.num() })
                        .collect();
                    if self.below(2) == 0 {
                        NumExpr::In(items)
                    } else {
                        NumExpr::NotIn(items)
                    }
                }
            }
        }
        fn literal(&mut self, ordered: bool) -> Literal {
            match self.below(if ordered { 2 } else { 5 }) {
                0 => Literal::Number(self.num()),
                1 => Literal::String(self.string()),
                2 => Literal::Null,
                3 => Literal::Empty,
                _ => Literal::WhitespacesOnly,
            }
        }
        fn value_expr(&mut self) -> ValueExpr {
            let ops = [CmpOp::Eq, CmpOp::Ne, CmpOp::Gt, CmpOp::Ge, CmpOp::Lt, CmpOp::Le];
            match self.below(6) {
                0 => {
                    let op = ops[self.below(6) as usize];
                    let lit = self.literal(!matches!(op, CmpOp::Eq | CmpOp::Ne));
                    ValueExpr::Cmp(op, lit)
                }
                1 => {
                    let (a, b) = if self.below(2) == 0 {
                        let (a, b) = self.sorted_pair();
                        (Literal::Number(a), Literal::Number(b))
                    } else {
                        let (a, b) = (self.string(), self.string());
                        let (a, b) = if a <= b { (a, b) } else { (b, a) };
                        (Literal::String(a), Literal::String(b))
                    };
                    if self.below(2) == 0 {
                        ValueExpr::Between(a, b)
                    } else {
                        ValueExpr::NotBetween(a, b)
                    }
                }
                2 | 3 => {
                    let items = (0..1 + self.below(5)).map(|_| self.literal(false)).collect();
                    if self.below(2) == 0 {
                        ValueExpr::In(items)
                    } else {
                        ValueExpr::NotIn(items)
                    }
                }
                _ => {
                    // Regexes from parsing never contain a quote preceded by an odd run of backslashes.
                    let re = ["^[a-z]+$", r"\d{3}\.\d", "\"x\"", r"a\\b", "名+"][self.below(5) as usize];
                    if self.below(2) == 0 {
                        ValueExpr::Matches(re.into())
                    } else {
                        ValueExpr::NotMatches(re.into())
                    }
                }
            }
        }
        fn threshold(&mut self) -> Option<NumExpr> {
            (self.below(2) == 0).then(|| self.num_expr(true))
        }
        fn rule(&mut self, depth: u32) -> Rule {
            let col = self.string();
            match self.below(if depth < 3 { 13 } else { 11 }) {
                0 => Rule::RowCount(self.num_expr(false)),
                1 => Rule::ColumnCount(self.num_expr(false)),
                2 => Rule::ColumnExists(col),
                3 => Rule::IsComplete(col),
                4 => Rule::Completeness(col, self.num_expr(true)),
                5 => Rule::IsUnique(col),
                6 => Rule::Uniqueness(col, self.num_expr(true)),
                7 => Rule::IsPrimaryKey((0..1 + self.below(3)).map(|_| self.string()).collect()),
                8 => Rule::ColumnValues {
                    column: col,
                    expr: self.value_expr(),
                    threshold: self.threshold(),
                },
                9 => Rule::ColumnLength {
                    column: col,
                    expr: self.num_expr(false),
                    threshold: self.threshold(),
                },
                10 => Rule::ColumnDataType {
                    column: col,
                    ty: DqdlType::ALL[self.below(8) as usize],
                    threshold: self.threshold(),
                },
                k => {
                    let items = (0..2 + self.below(3)).map(|_| self.rule(depth + 1)).collect();
                    if k == 11 {
                        Rule::And(items)
                    } else {
                        Rule::Or(items)
                    }
                }
            }
        }
    }

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let rule = rng.rule(0);
        let text = rule.to_string();
        match parse(&format!("Rules = [ {text} ]")) {
            Ok(rs) => assert_eq!(rs.rules, vec![rule], "round trip of {text}"),
            Err(e) => panic!("canonical text does not parse: {text}: {e}"),
        }
    }
}

/// Truncated and mutated documents give errors, never panics (a cheap stand-in for the fuzzer).
#[test]
fn mangled_input_never_panics() {
    let doc = "Metadata = { \"Version\": \"1.0\" }\nRules = [ # c\n  (RowCount > 0) or ((IsComplete \"a\") \
               and (IsUnique a)),\n  ColumnValues \"c\" not in [\"x\\\"y\", -1.5, NULL] with threshold \
               between 0.1 and 0.9,\n  ColumnValues \"d\" matches \"\\d+\", ColumnDataType \"e\" = \"LONG\",\n  \
               CustomSql \"select 1\" > avg(last(3)) where \"x\" // c\n]";
    assert!(parse(doc).is_err(), "CustomSql is unsupported");
    let chars: Vec<char> = doc.chars().collect();
    for end in 0..chars.len() {
        let _ = parse(&chars[..end].iter().collect::<String>());
    }
    let pieces = [
        "(", ")", "[", "]", "\"", "\\", ",", "and", " or ", "not", "-", "é", "#", "\n", "=", "!", "$x",
    ];
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..4_000 {
        let mut s: Vec<char> = chars.clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() % (s.len() as u64 + 1)) as usize;
            match next() % 3 {
                0 if at < s.len() => {
                    s.remove(at);
                }
                _ => {
                    let piece = pieces[(next() % pieces.len() as u64) as usize];
                    for (k, c) in piece.chars().enumerate() {
                        s.insert((at + k).min(s.len()), c);
                    }
                }
            }
        }
        let text: String = s.into_iter().collect();
        if let Ok(rs) = parse(&text) {
            // Whatever parses prints back to the same rules.
            assert_eq!(parse(&rs.to_string()).as_ref(), Ok(&rs), "{text}");
        }
    }
}

#[test]
fn aws_documentation_examples_parse() {
    let src = r#"
        Rules = [
            IsComplete "order-id",
            IsUnique "order-id",
            (IsComplete "id") and (IsUnique "id"),
            (RowCount > 0) or ((IsComplete "colA") and (IsUnique "colA")),
            ColumnValues "Country" in [ "US", "CA", "UK", NULL, EMPTY, WHITESPACES_ONLY ],
            ColumnValues "First_Name" matches "[a-zA-Z]*",
            ColumnValues "Customer_ID" between 1 and 2000,
            (ColumnValues "Age" > 21) OR (ColumnValues "Age" = NULL),
            ColumnValues "Age" != 21,
            ColumnValues "Age" not in [21, 22, 23],
            (ColumnValues "Age" != 21) AND (ColumnValues "Age" != NULL),
            ColumnValues "colA" != NULL with threshold > 0.5,
            ColumnLength "Postal_Code" = 5,
            (ColumnLength "Postal_Code" > 4) AND (ColumnValues "Postal_Code" != NULL),
            Completeness "First_Name" > 0.95,
            Uniqueness "email" = 1.0,
            IsPrimaryKey "colA" "colB" "colC",
            ColumnDataType "colA" = "INTEGER" with threshold > 0.9,
            ColumnExists "Middle_Name",
            ColumnCount = 12
        ]
    "#;
    assert_eq!(rules(src).len(), 20);
}
