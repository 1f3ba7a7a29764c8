use super::*;

const PREAMBLE: &str = "\nARG base_image=0\nFROM ${base_image}\n";

/// Dockerfiles valid both as build.Dockerfile and as run.Dockerfile.
fn valid() -> Vec<String> {
    vec![
        format!("{PREAMBLE}\nRUN echo \"hello\" > /world.txt\n"),
        format!(
            "{PREAMBLE}\nADD some-source.txt some-dest.txt\n\nARG some_arg\nRUN echo ${{some_arg}}\n\n\
             COPY some-source.txt some-dest.txt\n\nENV SOME_VAR=some-val\n\n\
             LABEL some.label=\"some-label-content\"\n\nUSER some-user\n\nWORKDIR some-workdir\n\n\
             SHELL [\"/bin/sh\"]\n"
        ),
        format!("{PREAMBLE}\nARG build_id=0\nRUN echo ${{build_id}}\n\nRUN echo \"not cached\"\n"),
        "# syntax=docker/dockerfile:1\nARG base_image\nFROM ${base_image}\nRUN <<EOF\nFROM inside-heredoc\nEOF\n"
            .to_string(),
    ]
}

/// Discouraged instructions, each appended to the preamble (so on line 4).
const DISCOURAGED: [(&str, &str); 8] = [
    ("CMD [\"some-cmd\"]", "CMD"),
    ("MAINTAINER \"some-maintainer\"", "MAINTAINER"),
    ("EXPOSE 80/tcp", "EXPOSE"),
    ("ENTRYPOINT [\"some-executable\"]", "ENTRYPOINT"),
    ("VOLUME [\"/some-dir\"]", "VOLUME"),
    ("ONBUILD RUN echo \"hello\" > /world.txt", "ONBUILD"),
    ("STOPSIGNAL SIGKILL", "STOPSIGNAL"),
    ("HEALTHCHECK NONE", "HEALTHCHECK"),
];

const MULTI_STAGE: &str = "\nARG base_image=0\nFROM ${base_image}\nRUN echo \"hello\" > /world.txt\n\n\
                           FROM some-base-image\nCOPY --from=0 /some-source.txt ./some-dest.txt\n";

#[test]
fn valid_build_dockerfiles() {
    for text in valid() {
        assert_eq!(validate_build(&text), Ok(vec![]), "{text}");
    }
}

#[test]
fn valid_run_dockerfiles_extend() {
    for text in valid() {
        let run = validate_run(&text).unwrap();
        assert_eq!(
            run,
            RunDockerfile {
                with_base: None,
                extend: true,
                warnings: vec![]
            },
            "{text}"
        );
    }
}

#[test]
fn discouraged_instructions_are_warnings() {
    for (line, instruction) in DISCOURAGED {
        let text = format!("{PREAMBLE}{line}");
        let build = validate_build(&text).unwrap();
        assert_eq!(
            build.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [format!(
                "build.Dockerfile command {instruction} on line 4 is not recommended"
            )]
        );
        let run = validate_run(&text).unwrap();
        assert!(run.extend && run.with_base.is_none());
        assert_eq!(
            run.warnings[0].to_string(),
            format!("run.Dockerfile command {instruction} on line 4 is not recommended")
        );
    }
    let lower = validate_build("ARG base_image\nFROM ${base_image}\ncmd x\n").unwrap();
    assert_eq!(lower[0].instruction, "CMD");
}

#[test]
fn invalid_build_dockerfiles() {
    for (text, msg) in [
        ("", "file with no instructions"),
        (
            "\nFROM some-base-image\n\nRUN echo \"hello\" > /world.txt\n",
            "build.Dockerfile did not start with required ARG command",
        ),
        (
            MULTI_STAGE,
            "build.Dockerfile is not permitted to use multistage build",
        ),
        (
            "ARG base_image\nARG other\nFROM ${base_image}",
            "build.Dockerfile did not start with required ARG command",
        ),
        (
            "ARG other base_image\nFROM ${base_image}",
            "build.Dockerfile did not start with required ARG command",
        ),
        (
            "ARG base_image\nFROM $base_image",
            "build.Dockerfile did not contain required FROM ${base_image} command",
        ),
        (
            "ARG base_image",
            "build.Dockerfile should have at least one stage",
        ),
        ("ENV A=1\nFROM x", "no build stage in current context"),
        (
            "ARG base_image\nFROM ${base_image}\nRUNN x",
            "dockerfile parse error on line 3: unknown instruction: RUNN (did you mean RUN?)",
        ),
    ] {
        assert_eq!(validate_build(text).unwrap_err().to_string(), msg, "{text}");
    }
    // The one meta argument may carry a default and more names after it.
    assert!(validate_build("ARG base_image=x other\nFROM ${base_image} AS b").is_ok());
}

#[test]
fn invalid_run_dockerfiles() {
    for (text, msg) in [
        ("", "file with no instructions"),
        (
            MULTI_STAGE,
            "run.Dockerfile is not permitted to use multistage build",
        ),
        ("ARG x", "run.Dockerfile should have at least one stage"),
        (
            "FROM x\nCOPY one",
            "dockerfile parse error on line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined",
        ),
    ] {
        assert_eq!(validate_run(text).unwrap_err().to_string(), msg, "{text}");
    }
}

#[test]
fn run_dockerfile_switching_the_image() {
    assert_eq!(
        validate_run("FROM some-base-image").unwrap(),
        RunDockerfile {
            with_base: Some("some-base-image".into()),
            extend: false,
            warnings: vec![]
        }
    );
    let both = validate_run("ARG tag=1\nFROM some-run-image@sha256:abc\nRUN true\n").unwrap();
    assert_eq!(both.with_base.as_deref(), Some("some-run-image@sha256:abc"));
    assert!(both.extend);
    // Only the literal `${base_image}` means "the current run image".
    let dollar = validate_run("FROM $base_image").unwrap();
    assert_eq!(dollar.with_base.as_deref(), Some("$base_image"));
}

#[test]
fn parse_exposes_stages_and_meta_args() {
    let file = parse("ARG a=1 b\nFROM x AS y\nARG c\nrun echo \\\n  hi\n").unwrap();
    assert_eq!(file.meta_args.len(), 1);
    assert_eq!(file.meta_args[0].first_arg_name(), Some("a"));
    assert_eq!(file.stages.len(), 1);
    let stage = &file.stages[0];
    assert_eq!((stage.base_name.as_str(), stage.line), ("x", 2));
    assert_eq!(stage.name.as_deref(), Some("y"));
    let names: Vec<_> = stage
        .commands
        .iter()
        .map(|c| (c.name.as_str(), c.line))
        .collect();
    assert_eq!(names, [("ARG", 3), ("run", 4)]);
    assert_eq!(stage.commands[1].args, ["echo   hi"]);
}
