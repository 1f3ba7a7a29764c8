//! `registry-meter --upstream <host:port> [--listen <host:port>]`: a loopback HTTP/1.1
//! reverse proxy in front of a registry that counts the body bytes of blob transfers
//! (`/v2/<name>/blobs/…`: uploads, downloads), so a benchmark or test can tell how many
//! layer bytes an operation moved.
//!
//! Use the proxy's address as the registry host. Bodies starting with `{` are JSON (image
//! configs) and counted apart from the others (gzip or tar layers). It prints
//! `listening: <addr>` once ready; on `SIGUSR1` it prints `layer_bytes: N json_bytes: M`
//! and starts counting from zero again; on `SIGTERM`/`SIGINT` it prints the same line
//! and exits.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Layer bytes counted since the last reset.
static LAYER_BYTES: AtomicU64 = AtomicU64::new(0);
/// JSON blob bytes counted since the last reset.
static JSON_BYTES: AtomicU64 = AtomicU64::new(0);
/// Set by `SIGUSR1`.
static REPORT: AtomicBool = AtomicBool::new(false);
/// Set by `SIGTERM` / `SIGINT`.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(signal: libc::c_int) {
    if signal == libc::SIGUSR1 {
        REPORT.store(true, Ordering::SeqCst);
    } else {
        STOP.store(true, Ordering::SeqCst);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let Some(upstream) = value("--upstream") else {
        eprintln!("usage: registry-meter --upstream <host:port> [--listen <host:port>]");
        std::process::exit(2);
    };
    let listen = value("--listen").unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(&listen).unwrap_or_else(|e| {
        eprintln!("registry-meter: bind {listen}: {e}");
        std::process::exit(1);
    });
    for signal in [libc::SIGUSR1, libc::SIGTERM, libc::SIGINT] {
        // SAFETY: the handler only stores to atomics, which is async-signal-safe.
        unsafe { libc::signal(signal, on_signal as *const () as libc::sighandler_t) };
    }
    println!("listening: {}", listener.local_addr().expect("address"));
    let _ = io::stdout().flush();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let upstream = upstream.clone();
            std::thread::spawn(move || {
                let _ = serve(client, &upstream);
            });
        }
    });
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let stop = STOP.load(Ordering::SeqCst);
        if REPORT.swap(false, Ordering::SeqCst) || stop {
            println!(
                "layer_bytes: {} json_bytes: {}",
                LAYER_BYTES.swap(0, Ordering::SeqCst),
                JSON_BYTES.swap(0, Ordering::SeqCst)
            );
            let _ = io::stdout().flush();
        }
        if stop {
            return;
        }
    }
}

/// A request or response head: the start line and the header lines.
struct Head {
    start: String,
    headers: Vec<(String, String)>,
}

impl Head {
    /// Reads a head; `None` at a clean end of stream.
    fn read(r: &mut impl BufRead) -> io::Result<Option<Head>> {
        let mut start = String::new();
        if r.read_line(&mut start)? == 0 {
            return Ok(None);
        }
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        Ok(Some(Head {
            start: start.trim_end().to_string(),
            headers,
        }))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn write(&self, w: &mut impl Write) -> io::Result<()> {
        let mut text = format!("{}\r\n", self.start);
        for (k, v) in &self.headers {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        text.push_str("\r\n");
        w.write_all(text.as_bytes())
    }

    /// How the body is delimited: `Some(Some(n))` a length, `Some(None)` chunked,
    /// `None` up to the end of the stream.
    fn framing(&self) -> Option<Option<u64>> {
        if self
            .header("transfer-encoding")
            .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"))
        {
            return Some(None);
        }
        self.header("content-length")
            .and_then(|l| l.parse().ok())
            .map(Some)
    }

    fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"))
    }
}

/// Proxies the requests of one client connection over one upstream connection.
fn serve(client: TcpStream, upstream: &str) -> io::Result<()> {
    let server = TcpStream::connect(upstream)?;
    let mut client_out = client.try_clone()?;
    let mut client_in = BufReader::new(client);
    let mut server_out = server.try_clone()?;
    let mut server_in = BufReader::new(server);
    while let Some(request) = Head::read(&mut client_in)? {
        let mut parts = request.start.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("");
        let blob = path.starts_with("/v2/") && path.contains("/blobs/");
        request.write(&mut server_out)?;
        copy_body(
            &mut client_in,
            &mut server_out,
            request.framing().unwrap_or(Some(0)),
            blob,
        )?;
        server_out.flush()?;
        let response = Head::read(&mut server_in)?.ok_or(io::ErrorKind::UnexpectedEof)?;
        response.write(&mut client_out)?;
        let status: u16 = response
            .start
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let bodyless = method == "HEAD" || status / 100 == 1 || status == 204 || status == 304;
        let framing = if bodyless {
            Some(Some(0))
        } else {
            response.framing()
        };
        match framing {
            Some(framing) => copy_body(&mut server_in, &mut client_out, framing, blob)?,
            None => {
                copy_counted(&mut server_in, &mut client_out, u64::MAX, blob, &mut None)?;
                return client_out.flush();
            }
        }
        client_out.flush()?;
        if request.closes() || response.closes() {
            break;
        }
    }
    Ok(())
}

/// Copies a body framed by `framing` (a length, or chunked when `None`), counting its
/// data when `blob`.
fn copy_body(
    r: &mut impl BufRead,
    w: &mut impl Write,
    framing: Option<u64>,
    blob: bool,
) -> io::Result<()> {
    let mut json = None;
    let Some(len) = framing else {
        loop {
            let mut line = String::new();
            r.read_line(&mut line)?;
            w.write_all(line.as_bytes())?;
            let size = u64::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| io::Error::other(format!("bad chunk size {line:?}")))?;
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    let mut line = String::new();
                    r.read_line(&mut line)?;
                    w.write_all(line.as_bytes())?;
                    if line.trim().is_empty() {
                        return Ok(());
                    }
                }
            }
            copy_counted(r, w, size, blob, &mut json)?;
            let mut crlf = String::new();
            r.read_line(&mut crlf)?;
            w.write_all(crlf.as_bytes())?;
        }
    };
    copy_counted(r, w, len, blob, &mut json)
}

/// Copies `len` bytes (or up to the end of the stream for `u64::MAX`), adding them to the
/// JSON or layer count when `blob`; `json` is decided by the body's first byte.
fn copy_counted(
    r: &mut impl Read,
    w: &mut impl Write,
    mut len: u64,
    blob: bool,
    json: &mut Option<bool>,
) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    while len > 0 {
        let want = buf.len().min(usize::try_from(len).unwrap_or(usize::MAX));
        let n = r.read(&mut buf[..want])?;
        if n == 0 {
            if len == u64::MAX {
                return Ok(());
            }
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        w.write_all(&buf[..n])?;
        if blob {
            let is_json = *json.get_or_insert(buf[0] == b'{');
            let counter = if is_json { &JSON_BYTES } else { &LAYER_BYTES };
            counter.fetch_add(n as u64, Ordering::SeqCst);
        }
        if len != u64::MAX {
            len -= n as u64;
        }
    }
    Ok(())
}
