//! The compose file of a docker-compose job (pure): the first container is the service the
//! job's commands run in, the others are services it links to; the agent's `files` are
//! volumes of the first.
//!
//! The layout follows the Go agent's (one service per container with `image`, `command`,
//! `user`, `entrypoint`, `environment` as `NAME=value` items with the value base64-decoded,
//! `links` and `volumes` on the main service). Unlike the Go agent, every value is written as
//! a double-quoted YAML scalar (JSON string syntax, which YAML reads the same), so a value
//! holding `:`, `#` or a newline cannot change the file's structure; and there is no
//! `version:` line, which Compose v2 only warns about.

use agent_protocol::{Compose, Container, FileInjection};

/// Why the compose file could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeFileError {
    /// The request has no container.
    #[error("the job's compose section has no container")]
    NoContainers,
    /// A container variable is not base64. Names only: values may be secrets.
    #[error("the variable {variable} of container {container} is not base64")]
    BadEnvVar {
        /// The container's name.
        container: String,
        /// The variable's name.
        variable: String,
    },
}

/// A YAML double-quoted scalar.
fn q(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// The name of the service the job runs in: the first container's.
pub fn main_service(compose: &Compose) -> Option<&str> {
    compose.containers.first().map(|c| c.name.as_str())
}

/// The compose file for `compose`, with `volumes` (`host:container`) on the main service.
pub fn compose_file(
    compose: &Compose,
    volumes: &[FileInjection],
) -> Result<String, ComposeFileError> {
    let (main, rest) = compose
        .containers
        .split_first()
        .ok_or(ComposeFileError::NoContainers)?;
    let mut out = String::from("services:\n");
    service(&mut out, main)?;
    if !rest.is_empty() {
        out.push_str("    links:\n");
        for other in rest {
            out.push_str(&format!("      - {}\n", q(&other.name)));
        }
    }
    if !volumes.is_empty() {
        out.push_str("    volumes:\n");
        for v in volumes {
            out.push_str(&format!(
                "      - {}\n",
                q(&format!("{}:{}", v.host_path, v.container_path))
            ));
        }
    }
    for other in rest {
        service(&mut out, other)?;
    }
    Ok(out)
}

fn service(out: &mut String, c: &Container) -> Result<(), ComposeFileError> {
    out.push_str(&format!("  {}:\n", q(&c.name)));
    out.push_str(&format!("    image: {}\n", q(&c.image)));
    for (key, value) in [
        ("command", &c.command),
        ("user", &c.user),
        ("entrypoint", &c.entrypoint),
    ] {
        if !value.is_empty() {
            out.push_str(&format!("    {key}: {}\n", q(value)));
        }
    }
    if !c.env_vars.is_empty() {
        out.push_str("    environment:\n");
        for var in &c.env_vars {
            let value = var
                .value
                .decode()
                .map_err(|_| ComposeFileError::BadEnvVar {
                    container: c.name.clone(),
                    variable: var.name.clone(),
                })?;
            let item = format!("{}={}", var.name, String::from_utf8_lossy(&value));
            out.push_str(&format!("      - {}\n", q(&item)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use agent_protocol::{Base64, EnvVar};

    use super::*;

    fn container(name: &str, image: &str) -> Container {
        Container {
            name: name.into(),
            image: image.into(),
            ..Container::default()
        }
    }

    #[test]
    fn main_links_the_others_and_mounts_the_files() {
        let mut main = container("main", "ruby:3");
        main.command = "sleep infinity".into();
        main.user = "1000".into();
        main.entrypoint = "/bin/sh -c".into();
        main.env_vars = vec![EnvVar {
            name: "X".into(),
            value: Base64::encode(b"a: b # c\nd"),
        }];
        let compose = Compose {
            containers: vec![main, container("db", "postgres:16")],
            ..Compose::default()
        };
        let volumes = [FileInjection {
            host_path: "/etc/hosts".into(),
            container_path: "/tmp/hosts".into(),
        }];
        let text = compose_file(&compose, &volumes).expect("a file");
        assert_eq!(
            text,
            "services:\n  \"main\":\n    image: \"ruby:3\"\n    command: \"sleep infinity\"\n    user: \"1000\"\n    entrypoint: \"/bin/sh -c\"\n    environment:\n      - \"X=a: b # c\\nd\"\n    links:\n      - \"db\"\n    volumes:\n      - \"/etc/hosts:/tmp/hosts\"\n  \"db\":\n    image: \"postgres:16\"\n"
        );
        // It is YAML with the values intact.
        let parsed: serde_json::Value = serde_norway::from_str(&text).expect("valid YAML");
        assert_eq!(
            parsed["services"]["main"]["environment"][0],
            "X=a: b # c\nd"
        );
        assert_eq!(parsed["services"]["db"]["image"], "postgres:16");
    }

    #[test]
    fn no_containers_and_bad_variables_are_errors() {
        assert_eq!(
            compose_file(&Compose::default(), &[]),
            Err(ComposeFileError::NoContainers)
        );
        let mut main = container("main", "x");
        main.env_vars = vec![EnvVar {
            name: "SECRET".into(),
            value: Base64::from_encoded("!!!"),
        }];
        let compose = Compose {
            containers: vec![main],
            ..Compose::default()
        };
        assert_eq!(
            compose_file(&compose, &[]),
            Err(ComposeFileError::BadEnvVar {
                container: "main".into(),
                variable: "SECRET".into()
            })
        );
    }
}
