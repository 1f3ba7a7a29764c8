//! A small HTTP/1.1 client for the Engine API, over a Unix socket or plain TCP.
//!
//! One request at a time per connection. The connection is kept open between requests
//! and reused: the reference dials the root-owned socket once, before dropping
//! privileges, and keeps talking over it. An idle connection is checked before reuse and
//! redialled when the daemon closed it (podman closes idle connections). Request bodies
//! are sent chunked while a second thread reads the response, so an error the daemon
//! answers early is seen even when it stops reading the body.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::DaemonError;
use super::host::Endpoint;

/// How long a TCP connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// The size of one chunk of a request body.
const CHUNK: usize = 256 * 1024;
/// The longest status or header line accepted.
const MAX_LINE: u64 = 16 * 1024;
/// The most header lines accepted.
const MAX_HEADERS: usize = 200;
/// How much of an error response body is read for its message.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// A connection to the daemon.
#[derive(Debug)]
enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn connect(endpoint: &Endpoint) -> io::Result<Stream> {
        match endpoint {
            Endpoint::Unix(path) => UnixStream::connect(path).map(Stream::Unix),
            Endpoint::Tcp(addr) => {
                let mut last = None;
                for a in addr.to_socket_addrs()? {
                    match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
                        Ok(s) => {
                            s.set_nodelay(true)?;
                            return Ok(Stream::Tcp(s));
                        }
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.unwrap_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, "no address for the host")
                }))
            }
        }
    }

    fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
        })
    }

    fn shutdown(&self) {
        let _ = match self {
            Stream::Unix(s) => s.shutdown(Shutdown::Both),
            Stream::Tcp(s) => s.shutdown(Shutdown::Both),
        };
    }

    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_nonblocking(on),
            Stream::Tcp(s) => s.set_nonblocking(on),
        }
    }

    /// Whether an idle connection can take a request: the daemon has neither closed it
    /// nor sent anything unasked.
    fn idle_usable(&self) -> bool {
        if self.set_nonblocking(true).is_err() {
            return false;
        }
        let mut byte = [0u8; 1];
        let read = match self {
            Stream::Unix(s) => (&*s).read(&mut byte),
            Stream::Tcp(s) => (&*s).read(&mut byte),
        };
        let open = matches!(read, Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        open && self.set_nonblocking(false).is_ok()
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The daemon's address and the connection kept between requests.
#[derive(Debug)]
pub(super) struct Conn {
    endpoint: Endpoint,
    host: String,
    idle: Mutex<Option<Stream>>,
}

impl Conn {
    /// Dials `endpoint` (`host` is its `DOCKER_HOST` text, for messages) and keeps the
    /// connection for the first request.
    pub(super) fn open(endpoint: Endpoint, host: String) -> Result<Arc<Conn>, DaemonError> {
        let conn = Conn {
            endpoint,
            host,
            idle: Mutex::new(None),
        };
        let stream = conn.dial()?;
        conn.checkin(stream);
        Ok(Arc::new(conn))
    }

    /// The daemon address as given.
    pub(super) fn host(&self) -> &str {
        &self.host
    }

    /// An I/O failure during a request.
    pub(super) fn io(&self, cause: io::Error) -> DaemonError {
        DaemonError::Io {
            host: self.host.clone(),
            cause,
        }
    }

    /// A malformed answer.
    pub(super) fn protocol(&self, detail: impl Into<String>) -> DaemonError {
        DaemonError::Protocol {
            host: self.host.clone(),
            detail: detail.into(),
        }
    }

    fn dial(&self) -> Result<Stream, DaemonError> {
        Stream::connect(&self.endpoint).map_err(|cause| DaemonError::Unreachable {
            host: self.host.clone(),
            cause,
        })
    }

    /// The kept connection if it is still usable (and whether it was), else a new one.
    fn checkout(&self) -> Result<(Stream, bool), DaemonError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).take();
        match idle {
            Some(s) if s.idle_usable() => Ok((s, true)),
            _ => Ok((self.dial()?, false)),
        }
    }

    fn checkin(&self, stream: Stream) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.is_none() {
            *idle = Some(stream);
        }
    }

    /// Sends a request without a body and reads the response head. A kept connection the
    /// daemon closed in the meantime is replaced once.
    pub(super) fn request(
        self: &Arc<Self>,
        method: &'static str,
        target: &str,
    ) -> Result<Response, DaemonError> {
        let mut retried = false;
        loop {
            let (mut stream, reused) = self.checkout()?;
            let sent = write_head(&mut stream, method, target, None).and_then(|()| {
                let mut reader = BufReader::new(stream);
                read_head(&mut reader).map(|head| (head, reader))
            });
            match sent {
                Ok((head, reader)) => {
                    return Ok(Response::new(head, reader, method, Some(Arc::clone(self))));
                }
                Err(e) if reused && !retried && closed_by_peer(&e) => retried = true,
                Err(e) => return Err(self.io(e)),
            }
        }
    }

    /// Sends a request whose body `write_body` streams (chunked) while `read` handles the
    /// response on another thread. When writing fails because the daemon stopped reading,
    /// the daemon's answer is the error.
    pub(super) fn request_with_body<T, E>(
        self: &Arc<Self>,
        method: &'static str,
        target: &str,
        content_type: &str,
        write_body: impl FnOnce(&mut dyn Write) -> Result<(), E>,
        read: impl FnOnce(&mut Response) -> Result<T, DaemonError> + Send,
    ) -> Result<T, DaemonError>
    where
        T: Send,
        DaemonError: From<E>,
    {
        let (mut stream, _) = self.checkout()?;
        write_head(&mut stream, method, target, Some(content_type)).map_err(|e| self.io(e))?;
        let reader_half = stream.try_clone().map_err(|e| self.io(e))?;
        let (wrote, socket_error, answer) = std::thread::scope(|scope| {
            let reader = scope.spawn(move || {
                let mut r = BufReader::new(reader_half);
                let head = read_head(&mut r).map_err(|e| self.io(e))?;
                let mut response = Response::new(head, r, method, None);
                let value = read(&mut response)?;
                Ok::<_, DaemonError>((value, response.body.reusable()))
            });
            let mut body = ChunkedWriter::new(&mut stream);
            let wrote = write_body(&mut body);
            let wrote = match wrote {
                Ok(()) => body.finish().map_err(Err),
                Err(e) => Err(Ok(e)),
            };
            let socket_error = body.socket_error.take();
            if wrote.is_err() {
                // Unblocks the reader when the daemon still waits for the body.
                stream.shutdown();
            }
            let answer = reader
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (wrote, socket_error, answer)
        });
        match (wrote, answer) {
            (Ok(()), Ok((value, reusable))) => {
                if reusable {
                    self.checkin(stream);
                }
                Ok(value)
            }
            (Ok(()), Err(e)) => Err(e),
            // The daemon's own answer explains why it stopped reading.
            (Err(_), Err(e)) if socket_error.is_some() && is_daemon_answer(&e) => Err(e),
            (Err(_), _) if socket_error.is_some() => {
                Err(self.io(socket_error.expect("checked above")))
            }
            (Err(Ok(local)), _) => Err(local.into()),
            (Err(Err(socket)), _) => Err(self.io(socket)),
        }
    }
}

/// Whether `e` is an answer of the daemon rather than a failure to get one.
fn is_daemon_answer(e: &DaemonError) -> bool {
    !matches!(e, DaemonError::Io { .. } | DaemonError::Protocol { .. })
}

/// Whether a request failed because the daemon had closed the connection.
fn closed_by_peer(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

fn write_head(
    out: &mut impl Write,
    method: &str,
    target: &str,
    chunked_body: Option<&str>,
) -> io::Result<()> {
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: docker\r\nUser-Agent: cnb-lifecycle/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    match chunked_body {
        Some(content_type) => head.push_str(&format!(
            "Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n"
        )),
        None if method != "GET" && method != "HEAD" => head.push_str("Content-Length: 0\r\n"),
        None => {}
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())
}

/// A response's status line and headers.
#[derive(Debug)]
struct Head {
    status: u16,
    http10: bool,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn invalid(detail: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, detail)
}

fn read_line(r: &mut impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    r.take(MAX_LINE).read_line(&mut line)?;
    if !line.ends_with('\n') {
        return Err(if line.is_empty() {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection",
            )
        } else {
            invalid(format!("truncated or overlong line {:?}", truncate(&line)))
        });
    }
    line.truncate(line.trim_end_matches(['\r', '\n']).len());
    Ok(line)
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(80) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn read_head(r: &mut impl BufRead) -> io::Result<Head> {
    let status_line = read_line(r)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|_| version.starts_with("HTTP/1."))
        .ok_or_else(|| invalid(format!("bad status line {:?}", truncate(&status_line))))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(r)?;
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(invalid("too many headers".into()));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line {:?}", truncate(&line))))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(Head {
        status,
        http10: version == "HTTP/1.0",
        headers,
    })
}

/// How the end of a response body is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// This many bytes are left.
    Length(u64),
    /// Chunked; this many bytes are left in the current chunk (0: a size line is next).
    Chunked(u64),
    /// Until the daemon closes the connection.
    UntilClose,
    /// The body was read to its end.
    Done,
}

/// A response body, read as it arrives. Read to its end, it gives its connection back for
/// the next request.
#[derive(Debug)]
pub(super) struct Body {
    reader: Option<BufReader<Stream>>,
    framing: Framing,
    keep_alive: bool,
    conn: Option<Arc<Conn>>,
}

impl Body {
    fn reader(&mut self) -> &mut BufReader<Stream> {
        self.reader
            .as_mut()
            .expect("body reader present until drop")
    }

    /// Whether the body was read to its end and the connection can take another request.
    fn reusable(&self) -> bool {
        self.framing == Framing::Done
            && self.keep_alive
            && self.reader.as_ref().is_some_and(|r| r.buffer().is_empty())
    }

    fn chunk_size(&mut self) -> io::Result<u64> {
        let line = read_line(self.reader())?;
        let digits = line.split(';').next().unwrap_or_default().trim();
        u64::from_str_radix(digits, 16)
            .map_err(|_| invalid(format!("bad chunk size {:?}", truncate(&line))))
    }

    fn expect_line_end(&mut self) -> io::Result<()> {
        let line = read_line(self.reader())?;
        if line.is_empty() {
            Ok(())
        } else {
            Err(invalid("missing CRLF after a chunk".into()))
        }
    }

    fn read_bounded(&mut self, buf: &mut [u8], left: u64) -> io::Result<usize> {
        let max = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.reader().read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection before the end of the response",
            ));
        }
        Ok(n)
    }
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.framing {
                Framing::Done | Framing::Length(0) => {
                    self.framing = Framing::Done;
                    return Ok(0);
                }
                Framing::Length(left) => {
                    let n = self.read_bounded(buf, left)?;
                    self.framing = Framing::Length(left - n as u64);
                    return Ok(n);
                }
                Framing::Chunked(0) => {
                    let size = self.chunk_size()?;
                    if size == 0 {
                        // Trailers, up to the empty line.
                        while !read_line(self.reader())?.is_empty() {}
                        self.framing = Framing::Done;
                        return Ok(0);
                    }
                    self.framing = Framing::Chunked(size);
                }
                Framing::Chunked(left) => {
                    let n = self.read_bounded(buf, left)?;
                    let left = left - n as u64;
                    if left == 0 {
                        self.expect_line_end()?;
                    }
                    self.framing = Framing::Chunked(left);
                    return Ok(n);
                }
                Framing::UntilClose => {
                    let n = self.reader().read(buf)?;
                    if n == 0 {
                        self.framing = Framing::Done;
                    }
                    return Ok(n);
                }
            }
        }
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if self.reusable()
            && let (Some(conn), Some(reader)) = (self.conn.take(), self.reader.take())
        {
            conn.checkin(reader.into_inner());
        }
    }
}

/// A response: status, headers and the body still to be read.
#[derive(Debug)]
pub(super) struct Response {
    head: Head,
    /// The body.
    pub(super) body: Body,
}

/// The error body of the Engine API.
#[derive(Deserialize)]
struct ErrorBody {
    message: String,
}

impl Response {
    fn new(
        head: Head,
        reader: BufReader<Stream>,
        method: &str,
        conn: Option<Arc<Conn>>,
    ) -> Response {
        let chunked = head
            .header("Transfer-Encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let framing =
            if method == "HEAD" || head.status / 100 == 1 || matches!(head.status, 204 | 304) {
                Framing::Done
            } else if chunked {
                Framing::Chunked(0)
            } else if let Some(len) = head.header("Content-Length").and_then(|v| v.parse().ok()) {
                Framing::Length(len)
            } else {
                Framing::UntilClose
            };
        let close = head
            .header("Connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let keep_alive = !close && !head.http10 && framing != Framing::UntilClose;
        Response {
            body: Body {
                reader: Some(reader),
                framing,
                keep_alive,
                conn,
            },
            head,
        }
    }

    /// The HTTP status.
    pub(super) fn status(&self) -> u16 {
        self.head.status
    }

    /// Whether the status is 2xx.
    pub(super) fn ok(&self) -> bool {
        self.head.status / 100 == 2
    }

    /// A response header's value.
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }

    /// The body read to its end and parsed as JSON.
    pub(super) fn json<T: DeserializeOwned>(&mut self, conn: &Conn) -> Result<T, DaemonError> {
        let value =
            serde_json::from_reader(&mut self.body).map_err(|e| match e.io_error_kind() {
                Some(kind) => conn.io(io::Error::new(kind, e.to_string())),
                None => conn.protocol(format!("invalid JSON: {e}")),
            })?;
        self.drain(conn)?;
        Ok(value)
    }

    /// Reads the rest of the body and drops it.
    pub(super) fn drain(&mut self, conn: &Conn) -> Result<(), DaemonError> {
        io::copy(&mut self.body, &mut io::sink())
            .map(drop)
            .map_err(|e| conn.io(e))
    }

    /// The error a non-2xx response stands for, with the daemon's message.
    pub(super) fn error(&mut self, conn: &Conn) -> DaemonError {
        let mut text = Vec::new();
        if let Err(e) = (&mut self.body).take(MAX_ERROR_BODY).read_to_end(&mut text) {
            return conn.io(e);
        }
        let _ = self.drain(conn);
        let message = match serde_json::from_slice::<ErrorBody>(&text) {
            Ok(body) => body.message,
            Err(_) => String::from_utf8_lossy(&text).trim().to_string(),
        };
        match self.status() {
            404 => DaemonError::NotFound { message },
            status => DaemonError::Api { status, message },
        }
    }
}

/// Writes what it is given as HTTP chunks of up to [`CHUNK`] bytes, and remembers
/// whether the socket failed (as opposed to the writer's caller).
struct ChunkedWriter<'a> {
    out: &'a mut Stream,
    buf: Vec<u8>,
    socket_error: Option<io::Error>,
}

impl<'a> ChunkedWriter<'a> {
    fn new(out: &'a mut Stream) -> Self {
        ChunkedWriter {
            out,
            buf: Vec::with_capacity(CHUNK),
            socket_error: None,
        }
    }

    fn send(&mut self, data: &[u8]) -> io::Result<()> {
        let sent = self
            .out
            .write_all(format!("{:x}\r\n", data.len()).as_bytes())
            .and_then(|()| self.out.write_all(data))
            .and_then(|()| self.out.write_all(b"\r\n"));
        if let Err(e) = &sent {
            self.socket_error = Some(io::Error::new(e.kind(), e.to_string()));
        }
        sent
    }

    fn send_buffered(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        let sent = self.send(&buf);
        self.buf = buf;
        self.buf.clear();
        sent
    }

    /// Sends what is buffered and the last, empty chunk.
    fn finish(&mut self) -> io::Result<()> {
        self.send_buffered()?;
        let sent = self.out.write_all(b"0\r\n\r\n");
        if let Err(e) = &sent {
            self.socket_error = Some(io::Error::new(e.kind(), e.to_string()));
        }
        sent
    }
}

impl Write for ChunkedWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > CHUNK {
            self.send_buffered()?;
        }
        if data.len() >= CHUNK {
            self.send(data)?;
        } else {
            self.buf.extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buffered()
    }
}

/// `s` escaped for a URL path: unreserved characters, `/`, `:` and `@` stay as they are.
pub(super) fn escape_path(s: &str) -> String {
    escape(s, b"-._~/:@")
}

/// `s` escaped for a URL query value: only unreserved characters stay as they are.
pub(super) fn escape_query(s: &str) -> String {
    escape(s, b"-._~")
}

fn escape(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// A body over a socket whose peer sent `wire` and closed.
    fn response(wire: &[u8], method: &str) -> Response {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(wire).unwrap();
        drop(a);
        let mut reader = BufReader::new(Stream::Unix(b));
        let head = read_head(&mut reader).unwrap();
        Response::new(head, reader, method, None)
    }

    fn body_text(r: &mut Response) -> io::Result<String> {
        let mut s = String::new();
        r.body.read_to_string(&mut s).map(|_| s)
    }

    #[test]
    fn reads_content_length_bodies() {
        let mut r = response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\napi-version: 1.41\r\n\r\nhelloEXTRA",
            "GET",
        );
        assert_eq!(r.status(), 200);
        assert_eq!(r.header("API-Version"), Some("1.41"));
        assert_eq!(body_text(&mut r).unwrap(), "hello");
        // Bytes after the body mean the connection cannot be reused.
        assert!(!r.body.reusable());
    }

    #[test]
    fn reads_chunked_bodies_with_extensions_and_trailers() {
        let mut r = response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n",
            "POST",
        );
        assert_eq!(body_text(&mut r).unwrap(), "abc0123456789abcdef");
        assert!(r.body.reusable());
    }

    #[test]
    fn truncated_bodies_are_errors() {
        let mut r = response(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "GET");
        assert_eq!(
            body_text(&mut r).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        let mut r = response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            "GET",
        );
        assert!(body_text(&mut r).is_err());
        let mut r = response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "GET",
        );
        assert_eq!(
            body_text(&mut r).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn bodies_without_length_end_with_the_connection() {
        let mut r = response(b"HTTP/1.0 200 OK\r\n\r\nall of it", "GET");
        assert_eq!(body_text(&mut r).unwrap(), "all of it");
        assert!(!r.body.reusable());
        let mut r = response(b"HTTP/1.1 204 No Content\r\n\r\n", "DELETE");
        assert_eq!(body_text(&mut r).unwrap(), "");
        assert!(r.body.reusable());
    }

    #[test]
    fn rejects_garbage_heads() {
        for wire in [
            &b"SSH-2.0-OpenSSH\r\n\r\n"[..],
            b"HTTP/1.1 abc\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        ] {
            let (mut a, b) = UnixStream::pair().unwrap();
            a.write_all(wire).unwrap();
            drop(a);
            let err = read_head(&mut BufReader::new(Stream::Unix(b))).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{wire:?}");
        }
        let (a, b) = UnixStream::pair().unwrap();
        drop(a);
        let err = read_head(&mut BufReader::new(Stream::Unix(b))).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn error_bodies_give_the_daemon_message() {
        let (a, _b) = UnixStream::pair().unwrap();
        let conn = Conn {
            endpoint: Endpoint::Unix("/x".into()),
            host: "unix:///x".into(),
            idle: Mutex::new(Some(Stream::Unix(a))),
        };
        let json = r#"{"message":"No such image: a:b"}"#;
        let wire = format!(
            "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\n\r\n{json}",
            json.len()
        );
        let mut r = response(wire.as_bytes(), "GET");
        assert_eq!(
            r.error(&conn).to_string(),
            "Error response from daemon: No such image: a:b"
        );
        let mut r = response(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom",
            "GET",
        );
        assert!(
            matches!(r.error(&conn), DaemonError::Api { status: 500, message } if message == "boom")
        );
    }

    #[test]
    fn chunked_writer_frames_and_finishes() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut stream = Stream::Unix(a);
        let big = vec![b'x'; CHUNK + 3];
        let writer = std::thread::spawn(move || {
            let mut w = ChunkedWriter::new(&mut stream);
            w.write_all(b"ab").unwrap();
            w.write_all(&big).unwrap();
            w.write_all(b"cd").unwrap();
            w.finish().unwrap();
        });
        let mut wire = Vec::new();
        let mut r = BufReader::new(&mut b);
        let mut decoded = Vec::new();
        // Decode with the same reader the client uses for responses.
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            wire.push(line.clone());
            let size = usize::from_str_radix(line.trim_end(), 16).unwrap();
            let mut data = vec![0; size + 2];
            r.read_exact(&mut data).unwrap();
            assert_eq!(&data[size..], b"\r\n");
            decoded.extend_from_slice(&data[..size]);
            if size == 0 {
                break;
            }
        }
        writer.join().unwrap();
        assert_eq!(decoded.len(), CHUNK + 7);
        assert!(decoded.starts_with(b"abx") && decoded.ends_with(b"xcd"));
        assert_eq!(wire, ["2\r\n", "40003\r\n", "2\r\n", "0\r\n"]);
    }

    #[test]
    fn kept_connections_closed_by_the_daemon_are_redialled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            // The first connection is closed without an answer, as an idle timeout would.
            let (first, _) = listener.accept().unwrap();
            drop(first);
            let (mut second, _) = listener.accept().unwrap();
            let mut r = BufReader::new(second.try_clone().unwrap());
            let head = read_line(&mut r).unwrap();
            while !read_line(&mut r).unwrap().is_empty() {}
            second
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
                .unwrap();
            head
        });
        let conn = Conn::open(
            Endpoint::Unix(path.clone()),
            format!("unix://{}", path.display()),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let mut r = conn.request("GET", "/_ping").unwrap();
        assert_eq!(body_text(&mut r).unwrap(), "OK");
        assert_eq!(server.join().unwrap(), "GET /_ping HTTP/1.1");
    }

    #[test]
    fn escapes_urls() {
        assert_eq!(
            escape_path("reg:5000/a/b:1@sha256:0f"),
            "reg:5000/a/b:1@sha256:0f"
        );
        assert_eq!(escape_path("a b?#"), "a%20b%3F%23");
        assert_eq!(escape_query("a/b:c&d"), "a%2Fb%3Ac%26d");
    }
}
