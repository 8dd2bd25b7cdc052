//! Benchmark of the scaler Lambda's binary as Lambda runs it: cold start, one invocation,
//! peak memory. Run by `scripts/bench-lambdas.sh` (which builds the release binary and starts
//! moto_server); not a test.
//!
//! The harness plays the Lambda Runtime API and Semaphore on loopback (raw HTTP/1.1, so it
//! can time stamp each request's arrival), keeps SSM and Auto Scaling on moto_server and
//! CloudWatch on the local stand-in. For each run it measures, from process spawn:
//! - the first request the process sends (its `GET …/invocation/next`);
//! - the first Semaphore request (after the token read from SSM);
//! - the invocation's duration (event handed over → response posted), one tick;
//! - peak resident memory (`VmHWM`) once the invocation is answered.
//!
//! Usage: `cold_start <path to scaler binary> [runs]`.

use std::time::{Duration, Instant};

use aws_test_support::{create_group, fake_cloudwatch, moto, put_parameter, unique};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// What a fake server saw: which request, when.
#[derive(Debug)]
struct Seen {
    what: &'static str,
    at: Instant,
}

/// Reads one HTTP request head (and discards a body announced by Content-Length).
async fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    loop {
        let n = stream.read(&mut byte).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let length = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            let mut have = buf.len() - end - 4;
            while have < length {
                let n = stream.read(&mut byte).await.ok()?;
                if n == 0 {
                    break;
                }
                have += n;
            }
            return Some(head);
        }
    }
}

async fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &str) {
    let mut text = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/json\r\n",
        body.len()
    );
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    let _ = stream.write_all(text.as_bytes()).await;
}

/// The Runtime API: one event (deadline `budget` from hand-over), then holds the next poll.
async fn runtime_api(listener: TcpListener, seen: mpsc::UnboundedSender<Seen>, budget: Duration) {
    let served = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let seen = seen.clone();
        let served = served.clone();
        tokio::spawn(async move {
            while let Some(head) = read_request(&mut stream).await {
                let at = Instant::now();
                if head.starts_with("GET /2018-06-01/runtime/invocation/next") {
                    let first = !served.swap(true, std::sync::atomic::Ordering::SeqCst);
                    if first {
                        let _ = seen.send(Seen { what: "next", at });
                    } else {
                        let _ = seen.send(Seen {
                            what: "next-again",
                            at,
                        });
                        std::future::pending::<()>().await;
                    }
                    let deadline_ms = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| (d + budget).as_millis())
                        .unwrap_or_default();
                    let headers = [
                        ("Lambda-Runtime-Aws-Request-Id", "bench-1".to_owned()),
                        ("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string()),
                        (
                            "Lambda-Runtime-Invoked-Function-Arn",
                            "arn:aws:lambda:us-east-1:123456789012:function:bench-scaler"
                                .to_owned(),
                        ),
                    ];
                    let _ = seen.send(Seen {
                        what: "event",
                        at: Instant::now(),
                    });
                    respond(&mut stream, "200 OK", &headers, "{}").await;
                } else if head.contains("/response") {
                    let _ = seen.send(Seen {
                        what: "response",
                        at,
                    });
                    respond(&mut stream, "202 Accepted", &[], "{}").await;
                } else {
                    let _ = seen.send(Seen { what: "error", at });
                    respond(&mut stream, "202 Accepted", &[], "{}").await;
                }
            }
        });
    }
}

/// Semaphore's metrics endpoint.
async fn semaphore(listener: TcpListener, seen: mpsc::UnboundedSender<Seen>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let seen = seen.clone();
        tokio::spawn(async move {
            while read_request(&mut stream).await.is_some() {
                let _ = seen.send(Seen {
                    what: "semaphore",
                    at: Instant::now(),
                });
                let body = r#"{"jobs":{"queued":2,"running":1},"agents":{"idle":0,"occupied":1}}"#;
                respond(&mut stream, "200 OK", &[], body).await;
            }
        });
    }
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn summary(label: &str, mut values: Vec<f64>, unit: &str) {
    values.sort_by(f64::total_cmp);
    let median = values[values.len() / 2];
    let p90 = values[(values.len() * 9 / 10).min(values.len() - 1)];
    let max = values[values.len() - 1];
    println!(
        "{label:<44} median {median:>8.2} {unit}   p90 {p90:>8.2} {unit}   max {max:>8.2} {unit}"
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let binary = args
        .next()
        .expect("usage: cold_start <scaler binary> [runs]");
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(20);
    let Some(sdk) = moto("cold_start benchmark").await else {
        std::process::exit(2);
    };
    let stack = unique("bench-stack");
    let group = format!("{stack}-asg");
    let token = unique("bench-token");
    put_parameter(&sdk, &token, "bench-token-value", true).await;
    create_group(&sdk, &group, (0, 1000, 0), None).await;
    let cloudwatch = fake_cloudwatch().await;

    let (mut to_runtime, mut to_semaphore, mut invocation, mut rss) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let runtime_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let semaphore_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let runtime_addr = runtime_listener.local_addr().expect("addr");
        let semaphore_addr = semaphore_listener.local_addr().expect("addr");
        // 9 s: room for exactly one tick (6 s budget + 2 s margin), so the invocation
        // returns right after it.
        let api = tokio::spawn(runtime_api(
            runtime_listener,
            tx.clone(),
            Duration::from_secs(9),
        ));
        let sem = tokio::spawn(semaphore(semaphore_listener, tx));

        let spawned = Instant::now();
        let mut child = tokio::process::Command::new(&binary)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", runtime_addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "bench-scaler")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env(
                "AWS_ENDPOINT_URL",
                std::env::var("AWS_ENDPOINT_URL").unwrap_or_default(),
            )
            .env("AWS_ENDPOINT_URL_CLOUDWATCH", cloudwatch.uri())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME", &token)
            .env("SEMAPHORE_AGENT_STACK_NAME", &stack)
            .env("SEMAPHORE_AGENT_ASG_NAME", &group)
            .env("SEMAPHORE_ENDPOINT", format!("http://{semaphore_addr}"))
            .env("SEMAPHORE_AGENT_OVERPROVISION_STRATEGY", "none")
            .env("SEMAPHORE_AGENT_OVERPROVISION_FACTOR", "0")
            .stdout(if std::env::var_os("BENCH_DEBUG").is_some() {
                std::process::Stdio::inherit()
            } else {
                std::process::Stdio::null()
            })
            .stderr(if std::env::var_os("BENCH_DEBUG").is_some() {
                std::process::Stdio::inherit()
            } else {
                std::process::Stdio::null()
            })
            .kill_on_drop(true)
            .spawn()
            .expect("the scaler binary starts");
        let pid = child.id().expect("pid");
        let (mut event_at, mut done) = (None, false);
        while let Ok(Some(seen)) = tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
            let since = seen.at.duration_since(spawned).as_secs_f64() * 1000.0;
            match seen.what {
                "next" => to_runtime.push(since),
                "event" => event_at = Some(seen.at),
                "semaphore" if to_semaphore.len() < to_runtime.len() => to_semaphore.push(since),
                "response" => {
                    if let Some(e) = event_at {
                        invocation.push(seen.at.duration_since(e).as_secs_f64() * 1000.0);
                    }
                }
                "next-again" => {
                    done = true;
                    break;
                }
                "error" => panic!("the invocation failed; run the binary by hand to see why"),
                _ => {}
            }
        }
        assert!(done, "the scaler did not finish its invocation");
        rss.push(peak_rss_kib(pid).unwrap_or_default() as f64 / 1024.0);
        let _ = child.kill().await;
        api.abort();
        sem.abort();
    }
    println!("scaler Lambda binary {binary}, {runs} cold starts");
    summary(
        "process start -> first request (runtime API)",
        to_runtime,
        "ms",
    );
    summary(
        "process start -> first Semaphore request",
        to_semaphore,
        "ms",
    );
    summary("one-tick invocation (moto + local fakes)", invocation, "ms");
    summary("peak RSS (VmHWM)", rss, "MB");
}
