//! `fetch` against a real HTTP server on 127.0.0.1 that answers like GitHub's meta API, or
//! fails like it sometimes does.

use github_keys::{KeysError, fetch};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves one response per connection with the given status line and body; returns the URL
/// and a handle yielding the first request's head.
async fn serve(
    status: &'static str,
    body: &'static str,
) -> (String, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/meta", listener.local_addr().expect("addr"));
    let handle = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut buf = vec![0u8; 4096];
        let n = socket.read(&mut buf).await.expect("read");
        let head = String::from_utf8_lossy(&buf[..n]).to_string();
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(response.as_bytes()).await.expect("write");
        head
    });
    (url, handle)
}

#[tokio::test]
async fn fetches_keys_with_a_user_agent() {
    let (url, server) = serve(
        "200 OK",
        r#"{"ssh_keys":["ssh-ed25519 AAAAC3Nza","ssh-rsa AAAAB3Nza"]}"#,
    )
    .await;
    let keys = fetch(&reqwest::Client::new(), &url).await.expect("keys");
    assert_eq!(keys, ["ssh-ed25519 AAAAC3Nza", "ssh-rsa AAAAB3Nza"]);
    let head = server.await.expect("server").to_ascii_lowercase();
    assert!(head.starts_with("get /meta "), "{head}");
    assert!(head.contains("user-agent: agent-aws-stack"), "{head}");
}

#[tokio::test]
async fn non_success_status_is_an_error() {
    let (url, _server) = serve("403 Forbidden", r#"{"message":"API rate limit exceeded"}"#).await;
    let err = fetch(&reqwest::Client::new(), &url)
        .await
        .expect_err("fails");
    assert!(
        matches!(err, KeysError::Status { status: 403, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("failed with status 403"));
}

#[tokio::test]
async fn malformed_body_is_an_error() {
    let (url, _server) = serve("200 OK", r#"{"ssh_keys":"nope"}"#).await;
    let err = fetch(&reqwest::Client::new(), &url)
        .await
        .expect_err("fails");
    assert!(matches!(err, KeysError::Malformed { .. }), "{err}");
}

#[tokio::test]
async fn unreachable_server_is_an_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/meta", listener.local_addr().expect("addr"));
    drop(listener);
    let err = fetch(&reqwest::Client::new(), &url)
        .await
        .expect_err("fails");
    assert!(matches!(err, KeysError::Request { .. }), "{err}");
}
