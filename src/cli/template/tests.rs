use super::*;
use serde_json::json;

fn run(t: &str, v: &Value) -> Result<String, Error> {
    Template::parse(t)?.execute(v)
}

fn ok(t: &str, v: &Value) -> String {
    run(t, v).unwrap_or_else(|e| panic!("{t}: {e}"))
}

fn image() -> Value {
    json!({
        "Id": "sha256:ab",
        "Config": {"Cmd": null, "Env": ["A=1", "B=2"], "Labels": {"b": "2", "a": "1"}, "Tty": false},
        "Size": 4261032,
        "RepoTags": ["busybox:latest"],
    })
}

#[test]
fn fields_and_nested_fields_print_as_go() {
    let v = image();
    assert_eq!(ok("{{.Id}}", &v), "sha256:ab");
    assert_eq!(ok("id={{.Id}} size={{.Size}}", &v), "id=sha256:ab size=4261032");
    assert_eq!(ok("{{.Config.Env}}", &v), "[A=1 B=2]");
    assert_eq!(ok("{{.Config.Labels}}", &v), "map[a:1 b:2]");
    // Docker's typed fields: a null slice or map prints empty.
    assert_eq!(ok("{{.Config.Cmd}}", &v), "[]");
    assert_eq!(
        ok("{{.Config.Nothing}}", &json!({"Config": {"Nothing": null}})),
        "<no value>"
    );
    assert_eq!(
        ok("{{.Config.Volumes}}", &json!({"Config": {"Volumes": null}})),
        "map[]"
    );
    assert_eq!(ok("{{.Config.Tty}}", &v), "false");
    assert_eq!(ok("{{json .Config.Cmd}}", &v), "null");
    assert_eq!(ok("{{.Id}} {{json .Config.Cmd}}", &v), "sha256:ab null");
    assert_eq!(ok("{{.}}", &json!([1, null, "x"])), "[1 <nil> x]");
}

#[test]
fn missing_keys_are_docker_errors() {
    let v = image();
    assert_eq!(
        run("{{.X}}", &v).unwrap_err().to_string(),
        "template: :1:2: executing \"\" at <.X>: map has no entry for key \"X\""
    );
    assert_eq!(
        run("a {{.Config.Nope}}", &v).unwrap_err().to_string(),
        "template: :1:11: executing \"\" at <.Config.Nope>: map has no entry for key \"Nope\""
    );
    assert!(
        run("{{.Id.X}}", &v)
            .unwrap_err()
            .to_string()
            .contains("can't evaluate field X in type string")
    );
    assert!(
        run("{{nosuch .Id}}", &v)
            .unwrap_err()
            .to_string()
            .contains("function \"nosuch\" not defined")
    );
    assert!(run("{{if .Id}}x", &v).is_err());
    assert!(run("{{.Id", &v).is_err());
}

#[test]
fn json_and_pipelines() {
    let v = image();
    assert_eq!(ok("{{json .Config.Env}}", &v), r#"["A=1","B=2"]"#);
    assert_eq!(ok("{{.Config.Env | json}}", &v), r#"["A=1","B=2"]"#);
    assert_eq!(ok("{{json .Config.Labels}}", &v), r#"{"a":"1","b":"2"}"#);
    assert_eq!(ok("{{json \"<&>\"}}", &v), r#""<&>""#);
    assert_eq!(ok("{{.Id | upper | lower}}", &v), "sha256:ab");
}

#[test]
fn string_functions() {
    let v = image();
    assert_eq!(ok("{{join .Config.Env \",\"}}", &v), "A=1,B=2");
    assert_eq!(ok("{{split \"a:b:c\" \":\"}}", &v), "[a b c]");
    assert_eq!(ok("{{index (split .Id \":\") 1}}", &v), "ab");
    assert_eq!(
        ok("{{upper .Id}} {{title \"hello world\"}}", &v),
        "SHA256:AB Hello World"
    );
    assert_eq!(ok("{{len .Config.Env}} {{len .Id}}", &v), "2 9");
    assert_eq!(ok("{{index .Config.Labels \"a\"}}", &v), "1");
    assert_eq!(ok("{{index .Config.Env 1}}", &v), "B=2");
    assert_eq!(ok("{{println .Id}}", &v), "sha256:ab\n");
    assert_eq!(ok("{{printf \"%s-%d\" .Id .Size}}", &v), "sha256:ab-4261032");
    assert_eq!(ok("[{{pad .Id 1 2}}] {{truncate .Id 3}}", &v), "[ sha256:ab  ] sha");
    assert_eq!(ok("{{`raw\\n`}}", &v), "raw\\n");
}

#[test]
fn range_if_else_with_and_variables() {
    let v = image();
    assert_eq!(ok("{{range .Config.Env}}<{{.}}>{{end}}", &v), "<A=1><B=2>");
    assert_eq!(
        ok("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", &v),
        "a=1;b=2;"
    );
    assert_eq!(
        ok("{{range $i, $e := .Config.Env}}{{$i}}{{$e}}{{$.Id}} {{end}}", &v),
        "0A=1sha256:ab 1B=2sha256:ab "
    );
    assert_eq!(ok("{{range .Config.Cmd}}x{{else}}none{{end}}", &v), "none");
    assert_eq!(ok("{{if .Config.Cmd}}yes{{else}}no{{end}}", &v), "no");
    assert_eq!(ok("{{if .Config.Env}}yes{{else}}no{{end}}", &v), "yes");
    assert_eq!(
        ok(
            "{{if eq .Id \"x\"}}1{{else if eq .Id \"sha256:ab\"}}2{{else}}3{{end}}",
            &v
        ),
        "2"
    );
    assert_eq!(ok("{{with .Config}}{{.Tty}}{{end}}", &v), "false");
    assert_eq!(ok("{{if not .Config.Tty}}off{{end}}", &v), "off");
    assert_eq!(ok("{{if and .Id (gt .Size 1)}}big{{end}}", &v), "big");
    assert_eq!(ok("{{$x := .Id}}{{$x}}", &v), "sha256:ab");
    assert_eq!(ok("{{- .Id -}}  \n {{ .Size }}", &v), "sha256:ab4261032");
    assert_eq!(ok("a {{/* note */}}b", &v), "a b");
    assert!(
        run("{{range .Id}}{{end}}", &v)
            .unwrap_err()
            .to_string()
            .contains("range can't iterate over sha256:ab")
    );
}
