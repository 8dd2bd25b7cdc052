//! Registry logins of a docker-compose job (pure): from one `image_pull_credentials` item,
//! the process to run, what the job's log shows of it, and what goes to its stdin.
//!
//! Secrets (passwords, key files, AWS keys) go to the process's stdin or environment, never
//! to its arguments and never to the shown line (the Go agent passes the GenericDocker
//! password with `-p` on the command line; this agent uses `--password-stdin` for every
//! kind). The variable names are the Go agent's:
//!
//! | `DOCKER_CREDENTIAL_TYPE` | variables | command |
//! |---|---|---|
//! | `DockerHub` | `DOCKERHUB_USERNAME`, `DOCKERHUB_PASSWORD` | `docker login --username U --password-stdin` |
//! | `GenericDocker` | `DOCKER_USERNAME`, `DOCKER_PASSWORD`, `DOCKER_URL` | `docker login --username U --password-stdin URL` |
//! | `AWS_ECR` | `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optional `AWS_ACCOUNT_ID` | `aws ecr get-login-password --region $AWS_REGION \| docker login --username AWS --password-stdin <account>.dkr.ecr.$AWS_REGION.amazonaws.com` (in `bash -c`, the variables in its environment; without `AWS_ACCOUNT_ID` the account comes from `aws sts get-caller-identity`) |
//! | `GCR` | `GCR_HOSTNAME`, the key file as the credential's first `files` item | `docker login -u _json_key --password-stdin https://<host>` (the key on stdin; it is never written to disk) |

use agent_protocol::{CredentialType, ImagePullCredentials};

/// One login to run.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    /// The kind, as shown in `Setting up credentials for <kind>`.
    pub kind: &'static str,
    /// What the job's log shows (no secret in it).
    pub shown: String,
    /// The program (`docker`, or `bash` for ECR's pipeline).
    pub program: String,
    /// Its arguments (no secret in them).
    pub args: Vec<String>,
    /// Variables added to its environment (ECR: the credential's variables).
    pub env: Vec<(String, String)>,
    /// Written to its stdin, then stdin is closed.
    pub stdin: Vec<u8>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("kind", &self.kind)
            .field("shown", &self.shown)
            .field("program", &self.program)
            .field("args", &self.args)
            .finish_non_exhaustive()
    }
}

/// Why a credential cannot be used; the text is what the job's log shows (no secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// `DOCKER_CREDENTIAL_TYPE` is missing or not base64.
    #[error("Failed to resolve docker login strategy: DOCKER_CREDENTIAL_TYPE not set")]
    NoType,
    /// An unknown `DOCKER_CREDENTIAL_TYPE`.
    #[error("Unknown Handler for credential type {0}")]
    UnknownType(String),
    /// A variable is missing or not base64.
    #[error("Failed to decode {0}")]
    Variable(String),
    /// GCR without a key file, or a key file that is not base64.
    #[error("Failed to decode the content of the file.")]
    KeyFile,
}

/// The login for `credentials`.
pub fn login(credentials: &ImagePullCredentials) -> Result<Login, LoginError> {
    let var = |name: &str| -> Result<String, LoginError> {
        credentials
            .env_vars
            .iter()
            .find(|v| v.name == name)
            .and_then(|v| v.value.decode().ok())
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| LoginError::Variable(name.to_owned()))
    };
    let docker = |kind, shown: &str, args: Vec<String>, stdin: String| Login {
        kind,
        shown: shown.to_owned(),
        program: "docker".into(),
        args,
        env: Vec::new(),
        stdin: stdin.into_bytes(),
    };
    match credentials.credential_type().ok_or(LoginError::NoType)? {
        CredentialType::DockerHub => Ok(docker(
            "DockerHub",
            "docker login --username $DOCKERHUB_USERNAME --password-stdin",
            vec![
                "login".into(),
                "--username".into(),
                var("DOCKERHUB_USERNAME")?,
                "--password-stdin".into(),
            ],
            var("DOCKERHUB_PASSWORD")?,
        )),
        CredentialType::GenericDocker => Ok(docker(
            "GenericDocker",
            "docker login --username $DOCKER_USERNAME --password-stdin $DOCKER_URL",
            vec![
                "login".into(),
                "--username".into(),
                var("DOCKER_USERNAME")?,
                "--password-stdin".into(),
                var("DOCKER_URL")?,
            ],
            var("DOCKER_PASSWORD")?,
        )),
        CredentialType::AwsEcr => {
            var("AWS_REGION")?;
            let mut env = Vec::new();
            for v in &credentials.env_vars {
                if v.name == ImagePullCredentials::TYPE_VAR {
                    continue;
                }
                env.push((v.name.clone(), var(&v.name)?));
            }
            let shown = "aws ecr get-login-password --region $AWS_REGION | docker login --username AWS --password-stdin $AWS_ACCOUNT_ID.dkr.ecr.$AWS_REGION.amazonaws.com";
            let script = concat!(
                "set -o pipefail; ",
                "account=\"${AWS_ACCOUNT_ID:-$(aws sts get-caller-identity --query Account --output text)}\" || exit 1; ",
                "aws ecr get-login-password --region \"$AWS_REGION\" | ",
                "docker login --username AWS --password-stdin \"$account.dkr.ecr.$AWS_REGION.amazonaws.com\""
            );
            Ok(Login {
                kind: "AWS_ECR",
                shown: shown.into(),
                program: "bash".into(),
                args: vec!["-c".into(), script.into()],
                env,
                stdin: Vec::new(),
            })
        }
        CredentialType::Gcr => {
            let host = var("GCR_HOSTNAME")?;
            let key = credentials
                .files
                .first()
                .and_then(|f| f.content.decode().ok())
                .ok_or(LoginError::KeyFile)?;
            Ok(Login {
                kind: "GCR",
                shown: "docker login -u _json_key --password-stdin https://$GCR_HOSTNAME".into(),
                program: "docker".into(),
                args: vec![
                    "login".into(),
                    "-u".into(),
                    "_json_key".into(),
                    "--password-stdin".into(),
                    format!("https://{host}"),
                ],
                env: Vec::new(),
                stdin: key,
            })
        }
        CredentialType::Unknown(other) => Err(LoginError::UnknownType(other)),
    }
}

#[cfg(test)]
mod tests {
    use agent_protocol::{Base64, EnvVar, JobFile};

    use super::*;

    fn creds(vars: &[(&str, &str)], files: Vec<JobFile>) -> ImagePullCredentials {
        ImagePullCredentials {
            env_vars: vars
                .iter()
                .map(|(n, v)| EnvVar {
                    name: (*n).into(),
                    value: Base64::encode(v.as_bytes()),
                })
                .collect(),
            files,
        }
    }

    #[test]
    fn dockerhub_and_generic_send_the_password_on_stdin() {
        let l = login(&creds(
            &[
                ("DOCKER_CREDENTIAL_TYPE", "DockerHub"),
                ("DOCKERHUB_USERNAME", "u"),
                ("DOCKERHUB_PASSWORD", "pw"),
            ],
            vec![],
        ))
        .expect("a login");
        assert_eq!(l.args, ["login", "--username", "u", "--password-stdin"]);
        assert_eq!(l.stdin, b"pw");
        assert!(!format!("{l:?}").contains("pw\""));
        let l = login(&creds(
            &[
                ("DOCKER_CREDENTIAL_TYPE", "GenericDocker"),
                ("DOCKER_USERNAME", "u"),
                ("DOCKER_PASSWORD", "pw"),
                ("DOCKER_URL", "reg.example.com"),
            ],
            vec![],
        ))
        .expect("a login");
        assert_eq!(
            l.args,
            [
                "login",
                "--username",
                "u",
                "--password-stdin",
                "reg.example.com"
            ]
        );
        assert_eq!(l.stdin, b"pw");
    }

    #[test]
    fn ecr_gcr_and_errors() {
        let l = login(&creds(
            &[
                ("DOCKER_CREDENTIAL_TYPE", "AWS_ECR"),
                ("AWS_REGION", "eu-west-1"),
                ("AWS_SECRET_ACCESS_KEY", "s"),
            ],
            vec![],
        ))
        .expect("a login");
        assert_eq!(l.program, "bash");
        assert!(
            l.env
                .contains(&("AWS_SECRET_ACCESS_KEY".into(), "s".into()))
        );
        assert!(!l.args.iter().any(|a| a.contains("eu-west-1")));
        let key = JobFile {
            path: "/tmp/gcr/keyfile.json".into(),
            content: Base64::encode(b"{\"k\":1}"),
            mode: "0600".into(),
        };
        let l = login(&creds(
            &[
                ("DOCKER_CREDENTIAL_TYPE", "GCR"),
                ("GCR_HOSTNAME", "gcr.io"),
            ],
            vec![key],
        ))
        .expect("a login");
        assert_eq!(l.args.last().map(String::as_str), Some("https://gcr.io"));
        assert_eq!(l.stdin, b"{\"k\":1}");
        assert_eq!(
            login(&creds(
                &[
                    ("DOCKER_CREDENTIAL_TYPE", "GCR"),
                    ("GCR_HOSTNAME", "gcr.io")
                ],
                vec![]
            )),
            Err(LoginError::KeyFile)
        );
        assert_eq!(login(&creds(&[], vec![])), Err(LoginError::NoType));
        assert_eq!(
            login(&creds(&[("DOCKER_CREDENTIAL_TYPE", "Quay")], vec![])),
            Err(LoginError::UnknownType("Quay".into()))
        );
        assert_eq!(
            login(&creds(&[("DOCKER_CREDENTIAL_TYPE", "DockerHub")], vec![])),
            Err(LoginError::Variable("DOCKERHUB_USERNAME".into()))
        );
    }
}
