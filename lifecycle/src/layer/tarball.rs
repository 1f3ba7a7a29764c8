//! Layers made from existing layer tarballs (gzip-compressed or plain), rewritten as the
//! reference's `TarLayer` rewrites the layers extensions add to the run image: each
//! entry is read as Go's `archive/tar` reads it and written again as Go's writer writes
//! it, with the modification time set to 1980-01-01T00:00:01Z and the user and group
//! names emptied. Everything else is kept: names (relative ones stay relative), modes,
//! uids and gids, link targets (hard links stay hard links), device numbers, access
//! and change times of entries whose format carries them, extended attributes and the
//! other PAX records, and the format each entry was read in (a PAX entry stays PAX,
//! a GNU one GNU; an entry Go cannot classify is written in the first format that
//! holds it).
//!
//! Refused: PAX global headers (the reference fails on them too) and sparse entries
//! (GNU tar's `--sparse`; no container builder writes them, and the reference would
//! store them dense).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, ErrorKind, Read};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

use super::error::LayerError;
use super::gopath;
use super::gotar::{
    self, BLOCK, NORMALIZED_MTIME, format_octal, format_string, is_ascii, set_format,
    split_ustar_path, to_ascii,
};
use super::tarstream::{ChunkSink, TarStream};

/// Go's `maxSpecialFileSize`: the most PAX or GNU long-name data read or written.
const MAX_SPECIAL_FILE: usize = 1 << 20;
/// Read buffer of the tarball file.
const READ_BUFFER: usize = 1 << 18;

// Go's `Format` bits.
const FORMAT_USTAR: u8 = 2;
const FORMAT_PAX: u8 = 4;
const FORMAT_GNU: u8 = 8;
const FORMAT_STAR: u8 = 16;
const FORMAT_V7: u8 = 1;

/// PAX keys Go's `Header` has fields for (it drops records of these it does not make).
const BASIC_KEYS: [&[u8]; 10] = [
    b"path",
    b"linkpath",
    b"size",
    b"uid",
    b"gid",
    b"uname",
    b"gname",
    b"mtime",
    b"atime",
    b"ctime",
];
const GNU_SPARSE_PREFIX: &[u8] = b"GNU.sparse.";

/// Copies every entry of the tarball at `path` into `stream`, normalized.
pub(crate) fn copy<S: ChunkSink>(
    path: &Path,
    stream: &mut TarStream<'_, S>,
) -> Result<(), LayerError> {
    let file = File::open(path).map_err(|e| LayerError::io("open", path, e))?;
    let mut input = BufReader::with_capacity(READ_BUFFER, file);
    let gzipped = loop {
        match input.fill_buf() {
            // Go's gzip reader wants the magic and the deflate method.
            Ok(head) => break head.starts_with(&[0x1f, 0x8b, 0x08]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(LayerError::io("read", path, e)),
        }
    };
    if gzipped {
        copy_entries(&mut MultiGzDecoder::new(input), path, stream)
    } else {
        copy_entries(&mut input, path, stream)
    }
}

fn copy_entries<R: Read, S: ChunkSink>(
    input: &mut R,
    path: &Path,
    stream: &mut TarStream<'_, S>,
) -> Result<(), LayerError> {
    let mut reader = Reader { input, pad: 0 };
    let mut encoded = Vec::with_capacity(4 * BLOCK);
    while let Some(mut header) = reader.next().map_err(|e| e.into_layer_error(path))? {
        header.normalize();
        encoded.clear();
        header
            .encode(&mut encoded)
            .map_err(|reason| LayerError::Header {
                path: path.to_path_buf(),
                reason: format!(
                    "entry {:?}: {reason}",
                    String::from_utf8_lossy(&header.name)
                ),
            })?;
        stream.write(&encoded)?;
        if !header_only(header.typeflag) {
            // The reader refused negative sizes.
            stream.copy_exact(reader.input, header.size as u64, path)?;
        }
    }
    Ok(())
}

/// Go's `isHeaderOnlyType`: links, devices, directories and FIFOs carry no data.
fn header_only(typeflag: u8) -> bool {
    matches!(typeflag, b'1'..=b'6')
}

/// A time as Go's `time.Time` holds one: seconds since the Unix epoch and nanoseconds
/// (`0..1e9`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct GoTime {
    secs: i64,
    nanos: i64,
}

impl GoTime {
    /// `time.Time{}`, which Go writes nowhere.
    const ZERO: GoTime = GoTime {
        secs: -62_135_596_800,
        nanos: 0,
    };

    /// `time.Unix(secs, nanos)` for `|nanos| < 1e9`.
    fn unix(secs: i64, nanos: i64) -> GoTime {
        if nanos < 0 {
            GoTime {
                secs: secs.wrapping_sub(1),
                nanos: nanos + 1_000_000_000,
            }
        } else {
            GoTime { secs, nanos }
        }
    }

    fn is_zero(self) -> bool {
        self == GoTime::ZERO
    }

    /// Go's `formatPAXTime`.
    fn pax(self) -> Vec<u8> {
        let (mut secs, mut nanos) = (self.secs, self.nanos);
        if nanos == 0 {
            return secs.to_string().into_bytes();
        }
        let mut sign = "";
        if secs < 0 {
            sign = "-";
            secs = -(secs + 1);
            nanos = 1_000_000_000 - nanos;
        }
        let text = format!("{sign}{secs}.{nanos:09}");
        text.trim_end_matches('0').as_bytes().to_vec()
    }
}

/// An entry's header as Go's `tar.Header` holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Header {
    typeflag: u8,
    name: Vec<u8>,
    linkname: Vec<u8>,
    size: i64,
    mode: i64,
    uid: i64,
    gid: i64,
    uname: Vec<u8>,
    gname: Vec<u8>,
    mtime: GoTime,
    atime: GoTime,
    ctime: GoTime,
    devmajor: i64,
    devminor: i64,
    /// `PAXRecords` (which also hold what Go copies into `Xattrs`).
    records: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The format the reader settled on.
    format: u8,
}

/// Why a tarball could not be read.
#[derive(Debug)]
enum ReadError {
    Io(io::Error),
    UnexpectedEof,
    /// Go's `ErrHeader`.
    Header,
    /// Go's `ErrFieldTooLong`.
    FieldTooLong,
    Sparse,
    GlobalHeader,
}

impl ReadError {
    fn into_layer_error(self, path: &Path) -> LayerError {
        let header = |reason: &str| LayerError::Header {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        match self {
            ReadError::Io(e) => LayerError::io("read", path, e),
            ReadError::UnexpectedEof => LayerError::io(
                "read",
                path,
                io::Error::new(ErrorKind::UnexpectedEof, "unexpected EOF"),
            ),
            ReadError::Header => header("archive/tar: invalid tar header"),
            ReadError::FieldTooLong => header("archive/tar: header field too long"),
            ReadError::Sparse => header("sparse files are not supported in layer tarballs"),
            ReadError::GlobalHeader => header(
                "archive/tar: cannot encode header: only PAXRecords should be set for TypeXGlobalHeader",
            ),
        }
    }
}

/// Reads as much of `buf` as `input` has: fewer bytes only at its end.
fn read_full<R: Read>(input: &mut R, buf: &mut [u8]) -> Result<usize, ReadError> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
    Ok(filled)
}

/// Go's `tar.Reader`, for archives whose entries' data the caller copies in full
/// before asking for the next entry.
struct Reader<'r, R> {
    input: &'r mut R,
    /// Padding after the current entry's data.
    pad: usize,
}

impl<R: Read> Reader<'_, R> {
    /// The next entry (`None` at the end of the archive), its PAX and GNU long-name
    /// headers merged in.
    fn next(&mut self) -> Result<Option<Header>, ReadError> {
        let mut records: Option<BTreeMap<Vec<u8>, Vec<u8>>> = None;
        let mut long_name = Vec::new();
        let mut long_link = Vec::new();
        let mut format = FORMAT_USTAR | FORMAT_PAX | FORMAT_GNU;
        loop {
            // An archive ending in the padding ends there, as Go's does.
            let mut padding = [0u8; BLOCK];
            let pad = std::mem::take(&mut self.pad);
            if read_full(self.input, &mut padding[..pad])? < pad {
                return Ok(None);
            }
            let Some(mut header) = self.read_header()? else {
                return Ok(None);
            };
            let data = self.data_size(&header)?;
            format &= header.format;
            match header.typeflag {
                b'x' | b'g' => {
                    format &= FORMAT_PAX;
                    let parsed = parse_pax(&self.special_file(data)?)?;
                    if header.typeflag == b'g' {
                        return Err(ReadError::GlobalHeader);
                    }
                    records = Some(parsed);
                }
                b'L' | b'K' => {
                    format &= FORMAT_GNU;
                    let data = self.special_file(data)?;
                    let name = parse_string(&data).to_vec();
                    if header.typeflag == b'L' {
                        long_name = name;
                    } else {
                        long_link = name;
                    }
                }
                _ => {
                    if let Some(records) = records {
                        merge_pax(&mut header, records)?;
                    }
                    if !long_name.is_empty() {
                        header.name = long_name;
                    }
                    if !long_link.is_empty() {
                        header.linkname = long_link;
                    }
                    if header.typeflag == 0 {
                        header.typeflag = if header.name.ends_with(b"/") {
                            b'5'
                        } else {
                            b'0'
                        };
                    }
                    // The PAX size may differ from the block's.
                    self.data_size(&header)?;
                    if header.typeflag == b'S' || pax_sparse(&header.records) {
                        return Err(ReadError::Sparse);
                    }
                    if format & FORMAT_USTAR != 0 && format & FORMAT_PAX != 0 {
                        format &= FORMAT_USTAR;
                    }
                    header.format = format;
                    return Ok(Some(header));
                }
            }
        }
    }

    /// Go's `handleRegularFile`: the entry's data length (none for header-only types),
    /// remembering its padding.
    fn data_size(&mut self, header: &Header) -> Result<usize, ReadError> {
        let size = if header_only(header.typeflag) {
            0
        } else {
            header.size
        };
        let size = usize::try_from(size).map_err(|_| ReadError::Header)?;
        self.pad = gotar::padding(size as u64);
        Ok(size)
    }

    /// Go's `readSpecialFile`: the data of a PAX or GNU long-name entry.
    fn special_file(&mut self, size: usize) -> Result<Vec<u8>, ReadError> {
        let want = size.min(MAX_SPECIAL_FILE + 1);
        let mut data = vec![0; want];
        if read_full(self.input, &mut data)? < want {
            return Err(ReadError::UnexpectedEof);
        }
        if want > MAX_SPECIAL_FILE {
            return Err(ReadError::FieldTooLong);
        }
        Ok(data)
    }

    /// Go's `readHeader`: the next header block, `None` at the end of the archive.
    fn read_header(&mut self) -> Result<Option<Header>, ReadError> {
        let mut block = [0u8; BLOCK];
        match read_full(self.input, &mut block)? {
            0 => return Ok(None),
            BLOCK => {}
            _ => return Err(ReadError::UnexpectedEof),
        }
        if block == [0; BLOCK] {
            match read_full(self.input, &mut block)? {
                0 => return Ok(None),
                BLOCK => {}
                _ => return Err(ReadError::UnexpectedEof),
            }
            if block == [0; BLOCK] {
                return Ok(None);
            }
            return Err(ReadError::Header);
        }
        let block_format = block_format(&block);
        if block_format == 0 {
            return Err(ReadError::Header);
        }

        let mut p = Parser::default();
        let mut header = Header {
            typeflag: block[156],
            name: parse_string(&block[0..100]).to_vec(),
            linkname: parse_string(&block[157..257]).to_vec(),
            size: p.numeric(&block[124..136]),
            mode: p.numeric(&block[100..108]),
            uid: p.numeric(&block[108..116]),
            gid: p.numeric(&block[116..124]),
            uname: Vec::new(),
            gname: Vec::new(),
            mtime: GoTime::unix(p.numeric(&block[136..148]), 0),
            atime: GoTime::ZERO,
            ctime: GoTime::ZERO,
            devmajor: 0,
            devminor: 0,
            records: BTreeMap::new(),
            format: 0,
        };
        if block_format > FORMAT_V7 {
            header.uname = parse_string(&block[265..297]).to_vec();
            header.gname = parse_string(&block[297..329]).to_vec();
            header.devmajor = p.numeric(&block[329..337]);
            header.devminor = p.numeric(&block[337..345]);
            let mut prefix: &[u8] = &[];
            if block_format & (FORMAT_USTAR | FORMAT_PAX) != 0 {
                header.format = block_format;
                prefix = parse_string(&block[345..500]);
                // Go trusts the format only for a clean block: ASCII, numbers ending in NUL.
                let nul_ended = [135, 107, 115, 123, 147, 336, 344]
                    .iter()
                    .all(|&end| block[end] == 0);
                if block.iter().any(|&c| c >= 0x80) || !nul_ended {
                    header.format = 0;
                }
            } else if block_format & FORMAT_STAR != 0 {
                prefix = parse_string(&block[345..476]);
                // Its access and change times only need to parse: the entry's format is
                // unknown, so the writer drops them.
                p.numeric(&block[476..488]);
                p.numeric(&block[488..500]);
            } else {
                header.format = block_format;
                let mut times = Parser::default();
                if block[345] != 0 {
                    header.atime = GoTime::unix(times.numeric(&block[345..357]), 0);
                }
                if block[357] != 0 {
                    header.ctime = GoTime::unix(times.numeric(&block[357..369]), 0);
                }
                // Old Go wrote a USTAR prefix there: read it as such when the times
                // do not parse.
                if times.failed {
                    header.atime = GoTime::ZERO;
                    header.ctime = GoTime::ZERO;
                    let old_prefix = parse_string(&block[345..500]);
                    if is_ascii(old_prefix) {
                        prefix = old_prefix;
                    }
                    header.format = 0;
                }
            }
            if !prefix.is_empty() {
                let mut name = prefix.to_vec();
                name.push(b'/');
                name.extend_from_slice(&header.name);
                header.name = name;
            }
        }
        if p.failed {
            return Err(ReadError::Header);
        }
        Ok(Some(header))
    }
}

/// Go's `getFormat`: the formats a block's magic allows (0 when its checksum is wrong).
fn block_format(block: &[u8; BLOCK]) -> u8 {
    let mut p = Parser::default();
    let recorded = p.octal(&block[148..156]);
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, &c) in block.iter().enumerate() {
        let c = if (148..156).contains(&i) { b' ' } else { c };
        unsigned += i64::from(c);
        signed += i64::from(c as i8);
    }
    if p.failed || (recorded != unsigned && recorded != signed) {
        return 0;
    }
    let magic = &block[257..263];
    let version = &block[263..265];
    match (magic, version, &block[508..512]) {
        (b"ustar\0", _, b"tar\0") => FORMAT_STAR,
        (b"ustar\0", _, _) => FORMAT_USTAR | FORMAT_PAX,
        (b"ustar ", b" \0", _) => FORMAT_GNU,
        _ => FORMAT_V7,
    }
}

/// Go's `parser`: numbers of header fields, remembering whether one failed.
#[derive(Default)]
struct Parser {
    failed: bool,
}

impl Parser {
    /// Go's `parseNumeric`: base-256 when the high bit is set, else octal.
    fn numeric(&mut self, b: &[u8]) -> i64 {
        if b.first().is_some_and(|&c| c & 0x80 != 0) {
            let inv = if b[0] & 0x40 != 0 { 0xff } else { 0 };
            let mut x: u64 = 0;
            for (i, &c) in b.iter().enumerate() {
                let mut c = c ^ inv;
                if i == 0 {
                    c &= 0x7f;
                }
                if x >> 56 > 0 {
                    self.failed = true;
                    return 0;
                }
                x = x << 8 | u64::from(c);
            }
            if x >> 63 > 0 {
                self.failed = true;
                return 0;
            }
            return if inv == 0xff { !(x as i64) } else { x as i64 };
        }
        self.octal(b)
    }

    /// Go's `parseOctal`: spaces and NULs around the digits ignored.
    fn octal(&mut self, b: &[u8]) -> i64 {
        let trimmed = trim(b, b" \0");
        if trimmed.is_empty() {
            return 0;
        }
        let digits = parse_string(trimmed);
        let parsed = (!digits.is_empty() && digits.iter().all(|c| (b'0'..=b'7').contains(c)))
            .then(|| std::str::from_utf8(digits).ok())
            .flatten()
            .and_then(|s| u64::from_str_radix(s, 8).ok());
        match parsed {
            Some(x) => x as i64,
            None => {
                self.failed = true;
                0
            }
        }
    }
}

fn trim<'a>(mut b: &'a [u8], set: &[u8]) -> &'a [u8] {
    while let [first, rest @ ..] = b {
        if !set.contains(first) {
            break;
        }
        b = rest;
    }
    while let [rest @ .., last] = b {
        if !set.contains(last) {
            break;
        }
        b = rest;
    }
    b
}

/// Go's `parseString`: up to the first NUL.
fn parse_string(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |i| &b[..i])
}

/// Go's `strconv.ParseInt(s, 10, 64)`.
fn parse_int(s: &[u8]) -> Option<i64> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Go's `parsePAX`: the records of a PAX header, GNU sparse 0.0 offsets and sizes
/// gathered into one `GNU.sparse.map` record.
fn parse_pax(mut data: &[u8]) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, ReadError> {
    const OFFSET: &[u8] = b"GNU.sparse.offset";
    const NUMBYTES: &[u8] = b"GNU.sparse.numbytes";
    let mut records = BTreeMap::new();
    let mut sparse_map: Vec<&[u8]> = Vec::new();
    while !data.is_empty() {
        let (key, value, rest) = parse_pax_record(data)?;
        data = rest;
        if key == OFFSET || key == NUMBYTES {
            let expected = if sparse_map.len().is_multiple_of(2) {
                OFFSET
            } else {
                NUMBYTES
            };
            if key != expected || value.contains(&b',') {
                return Err(ReadError::Header);
            }
            sparse_map.push(value);
        } else {
            records.insert(key.to_vec(), value.to_vec());
        }
    }
    if !sparse_map.is_empty() {
        records.insert(b"GNU.sparse.map".to_vec(), sparse_map.join(&b','));
    }
    Ok(records)
}

/// A PAX record's key and value, and what follows the record.
type PaxRecord<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// Go's `parsePAXRecord`: `<length> <key>=<value>\n`, and what follows it.
fn parse_pax_record(s: &[u8]) -> Result<PaxRecord<'_>, ReadError> {
    let space = s.iter().position(|&c| c == b' ').ok_or(ReadError::Header)?;
    let n = parse_int(&s[..space]).ok_or(ReadError::Header)?;
    if n < 5 || n > s.len() as i64 {
        return Err(ReadError::Header);
    }
    let rest = &s[space + 1..];
    let n = n - space as i64 - 1;
    if n <= 0 {
        return Err(ReadError::Header);
    }
    let n = n as usize;
    let (record, newline, remainder) = (&rest[..n - 1], rest[n - 1], &rest[n..]);
    if newline != b'\n' {
        return Err(ReadError::Header);
    }
    let eq = record
        .iter()
        .position(|&c| c == b'=')
        .ok_or(ReadError::Header)?;
    let (key, value) = (&record[..eq], &record[eq + 1..]);
    let names_a_path = matches!(key, b"path" | b"linkpath" | b"uname" | b"gname");
    let invalid = key.is_empty()
        || key.contains(&b'=')
        || key.contains(&0)
        || (names_a_path && value.contains(&0));
    if invalid {
        return Err(ReadError::Header);
    }
    Ok((key, value, remainder))
}

/// Go's `parsePAXTime`: `<seconds>[.<fraction>]`.
fn parse_pax_time(v: &[u8]) -> Result<GoTime, ReadError> {
    let (secs, fraction) = match v.iter().position(|&c| c == b'.') {
        Some(dot) => (&v[..dot], &v[dot + 1..]),
        None => (v, &[][..]),
    };
    let seconds = parse_int(secs).ok_or(ReadError::Header)?;
    if fraction.is_empty() {
        return Ok(GoTime::unix(seconds, 0));
    }
    if !fraction.iter().all(u8::is_ascii_digit) {
        return Err(ReadError::Header);
    }
    let mut nanos: i64 = 0;
    for i in 0..9 {
        nanos = nanos * 10 + fraction.get(i).map_or(0, |&c| i64::from(c - b'0'));
    }
    if secs.first() == Some(&b'-') {
        nanos = -nanos;
    }
    Ok(GoTime::unix(seconds, nanos))
}

/// Go's `mergePAX`: records override the block's fields; every record is kept.
fn merge_pax(header: &mut Header, records: BTreeMap<Vec<u8>, Vec<u8>>) -> Result<(), ReadError> {
    for (key, value) in &records {
        if value.is_empty() {
            continue;
        }
        let int = || parse_int(value).ok_or(ReadError::Header);
        match key.as_slice() {
            b"path" => header.name.clone_from(value),
            b"linkpath" => header.linkname.clone_from(value),
            b"uname" => header.uname.clone_from(value),
            b"gname" => header.gname.clone_from(value),
            b"uid" => header.uid = int()?,
            b"gid" => header.gid = int()?,
            b"atime" => header.atime = parse_pax_time(value)?,
            b"mtime" => header.mtime = parse_pax_time(value)?,
            b"ctime" => header.ctime = parse_pax_time(value)?,
            b"size" => header.size = int()?,
            _ => {}
        }
    }
    header.records = records;
    Ok(())
}

/// Whether PAX records make the entry a GNU sparse file (Go's
/// `readGNUSparsePAXHeaders` deciding to read a sparse map).
fn pax_sparse(records: &BTreeMap<Vec<u8>, Vec<u8>>) -> bool {
    let get = |key: &[u8]| records.get(key).map_or(&[][..], Vec::as_slice);
    match (get(b"GNU.sparse.major"), get(b"GNU.sparse.minor")) {
        (b"0", b"0" | b"1") | (b"1", b"0") => true,
        (b"", b"") => !get(b"GNU.sparse.map").is_empty(),
        _ => false,
    }
}

/// What Go's `allowedFormats` decides for a header.
struct Allowed {
    format: u8,
    records: BTreeMap<Vec<u8>, Vec<u8>>,
    prefer_pax: bool,
    why_no_ustar: String,
    why_no_pax: String,
    why_no_gnu: String,
}

impl Allowed {
    fn string(&mut self, header: &Header, s: &[u8], size: usize, name: &str, key: &[u8]) {
        let too_long = s.len() > size;
        let long_gnu_ok = key == b"path" || key == b"linkpath";
        if s.contains(&0) || (too_long && !long_gnu_ok) {
            self.why_no_gnu = format!("GNU cannot encode {name}={:?}", lossy(s));
            self.format &= !FORMAT_GNU;
        }
        if !is_ascii(s) || too_long {
            if key != b"path" || split_ustar_path(s).is_none() {
                self.why_no_ustar = format!("USTAR cannot encode {name}={:?}", lossy(s));
                self.format &= !FORMAT_USTAR;
            }
            self.records.insert(key.to_vec(), s.to_vec());
        }
        if header.records.get(key).is_some_and(|v| v == s) {
            self.records.insert(key.to_vec(), s.to_vec());
        }
    }

    fn numeric(&mut self, header: &Header, n: i64, size: usize, name: &str, key: Option<&[u8]>) {
        if !fits_base256(size, n) {
            self.why_no_gnu = format!("GNU cannot encode {name}={n}");
            self.format &= !FORMAT_GNU;
        }
        let text = n.to_string().into_bytes();
        if !fits_octal(size, n) {
            self.why_no_ustar = format!("USTAR cannot encode {name}={n}");
            self.format &= !FORMAT_USTAR;
            match key {
                None => {
                    self.why_no_pax = format!("PAX cannot encode {name}={n}");
                    self.format &= !FORMAT_PAX;
                }
                Some(key) => {
                    self.records.insert(key.to_vec(), text.clone());
                }
            }
        }
        if let Some(key) = key
            && header.records.get(key).is_some_and(|v| *v == text)
        {
            self.records.insert(key.to_vec(), text);
        }
    }

    fn time(&mut self, header: &Header, t: GoTime, name: &str, key: &[u8]) {
        if t.is_zero() {
            return;
        }
        if !fits_base256(12, t.secs) {
            self.why_no_gnu = format!("GNU cannot encode {name}={}", t.secs);
            self.format &= !FORMAT_GNU;
        }
        let is_mtime = key == b"mtime";
        let fits = fits_octal(12, t.secs);
        if !is_mtime || !fits {
            self.why_no_ustar = format!("USTAR cannot encode {name}={}", t.secs);
            self.format &= !FORMAT_USTAR;
        }
        if !is_mtime || !fits || t.nanos != 0 {
            self.prefer_pax = true;
            self.records.insert(key.to_vec(), t.pax());
        }
        if header.records.get(key).is_some_and(|v| *v == t.pax()) {
            self.records.insert(key.to_vec(), t.pax());
        }
    }
}

fn lossy(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

/// Go's `fitsInOctal`.
fn fits_octal(width: usize, x: i64) -> bool {
    x >= 0 && (width >= 22 || x < 1 << ((width - 1) * 3))
}

/// Go's `fitsInBase256`.
fn fits_base256(width: usize, x: i64) -> bool {
    let bits = (width - 1) * 8;
    width >= 9 || (x >= -(1 << bits) && x < 1 << bits)
}

/// Go's `formatOctal`: zero when the number does not fit.
fn octal(field: &mut [u8], x: i64) {
    format_octal(
        field,
        if fits_octal(field.len(), x) {
            x as u64
        } else {
            0
        },
    );
}

/// Go's `formatNumeric`: octal, else base-256, else zero.
fn numeric(field: &mut [u8], x: i64) {
    if fits_octal(field.len(), x) || !fits_base256(field.len(), x) {
        octal(field, x);
        return;
    }
    let mut rest = x;
    for byte in field.iter_mut().rev() {
        *byte = rest as u8;
        rest >>= 8;
    }
    field[0] |= 0x80;
}

/// Go's `formatPAXRecord`.
fn pax_record(key: &[u8], value: &[u8], out: &mut Vec<u8>) {
    let base = key.len() + value.len() + 3;
    let mut size = base + base.to_string().len();
    let digits = size.to_string().len();
    if digits + base != size {
        size = digits + base;
    }
    out.extend_from_slice(size.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// Go's `writeRawFile`: a PAX or GNU long-name entry holding `data`.
fn raw_file(name: &[u8], data: &[u8], typeflag: u8, gnu: bool, out: &mut Vec<u8>) {
    let mut name = to_ascii(name);
    name.truncate(100);
    while name.last() == Some(&b'/') {
        name.pop();
    }
    let mut block = [0u8; BLOCK];
    format_string(&mut block[0..100], &name);
    octal(&mut block[100..108], 0);
    octal(&mut block[108..116], 0);
    octal(&mut block[116..124], 0);
    octal(&mut block[124..136], data.len() as i64);
    octal(&mut block[136..148], 0);
    block[156] = typeflag;
    set_format(&mut block, gnu);
    out.extend_from_slice(&block);
    out.extend_from_slice(data);
    out.resize(out.len() + gotar::padding(data.len() as u64), 0);
}

impl Header {
    /// The reference's `NormalizingTarWriter`: fixed modification time, no user or
    /// group names (the name's volume prefix it trims does not exist on Linux).
    fn normalize(&mut self) {
        self.mtime = GoTime::unix(NORMALIZED_MTIME as i64, 0);
        self.uname.clear();
        self.gname.clear();
    }

    /// Go's `Writer.WriteHeader` for a header read by [`Reader`] and normalized.
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), String> {
        // Access and change times are written only in a format the reader was sure of.
        let (atime, ctime) = if self.format == 0 {
            (GoTime::ZERO, GoTime::ZERO)
        } else {
            (self.atime, self.ctime)
        };
        let mut allowed = Allowed {
            format: FORMAT_USTAR | FORMAT_PAX | FORMAT_GNU,
            records: BTreeMap::new(),
            prefer_pax: false,
            why_no_ustar: String::new(),
            why_no_pax: String::new(),
            why_no_gnu: String::new(),
        };
        allowed.string(self, &self.name, 100, "Name", b"path");
        allowed.string(self, &self.linkname, 100, "Linkname", b"linkpath");
        allowed.string(self, &self.uname, 32, "Uname", b"uname");
        allowed.string(self, &self.gname, 32, "Gname", b"gname");
        allowed.numeric(self, self.mode, 8, "Mode", None);
        allowed.numeric(self, self.uid, 8, "Uid", Some(b"uid"));
        allowed.numeric(self, self.gid, 8, "Gid", Some(b"gid"));
        allowed.numeric(self, self.size, 12, "Size", Some(b"size"));
        allowed.numeric(self, self.devmajor, 8, "Devmajor", None);
        allowed.numeric(self, self.devminor, 8, "Devminor", None);
        allowed.time(self, self.mtime, "ModTime", b"mtime");
        allowed.time(self, atime, "AccessTime", b"atime");
        allowed.time(self, ctime, "ChangeTime", b"ctime");

        if matches!(self.typeflag, b'0' | b'3' | b'4' | b'6') && self.name.ends_with(b"/") {
            return Err(header_error(&["filename may not have trailing slash"]));
        }
        let mut why_only_pax = "";
        if !self.records.is_empty() {
            for (key, value) in &self.records {
                let basic = BASIC_KEYS.contains(&key.as_slice());
                if !basic && !key.starts_with(GNU_SPARSE_PREFIX) {
                    allowed
                        .records
                        .entry(key.clone())
                        .or_insert_with(|| value.clone());
                }
            }
            why_only_pax = "only PAX supports PAXRecords";
            allowed.format &= FORMAT_PAX;
        }
        if self.format != 0 {
            let mut wanted = self.format;
            if wanted & FORMAT_PAX != 0 && !allowed.prefer_pax {
                wanted |= FORMAT_USTAR;
            }
            allowed.format &= wanted;
        }

        if allowed.format & FORMAT_USTAR != 0 {
            let (prefix, name) = split_ustar_path(&self.name).unwrap_or((&[], &self.name));
            let mut block = self.template([name, &self.linkname, &self.uname, &self.gname], octal);
            format_string(&mut block[345..500], prefix);
            set_format(&mut block, false);
            out.extend_from_slice(&block);
        } else if allowed.format & FORMAT_PAX != 0 {
            if !allowed.records.is_empty() {
                let mut data = Vec::new();
                for (key, value) in &allowed.records {
                    pax_record(key, value, &mut data);
                }
                if data.len() > MAX_SPECIAL_FILE {
                    return Err("archive/tar: header field too long".to_string());
                }
                raw_file(&pax_header_name(&self.name), &data, b'x', false, out);
            }
            let strings =
                [&self.name, &self.linkname, &self.uname, &self.gname].map(|s| to_ascii(s));
            let mut block = self.template(strings.each_ref().map(Vec::as_slice), octal);
            set_format(&mut block, false);
            out.extend_from_slice(&block);
        } else if allowed.format & FORMAT_GNU != 0 {
            for (value, typeflag) in [(&self.name, b'L'), (&self.linkname, b'K')] {
                if value.len() > 100 {
                    let mut data = value.clone();
                    data.push(0);
                    raw_file(b"././@LongLink", &data, typeflag, true, out);
                }
            }
            let strings = [&self.name, &self.linkname, &self.uname, &self.gname];
            let mut block = self.template(strings.map(Vec::as_slice), numeric);
            if !atime.is_zero() {
                numeric(&mut block[345..357], atime.secs);
            }
            if !ctime.is_zero() {
                numeric(&mut block[357..369], ctime.secs);
            }
            set_format(&mut block, true);
            out.extend_from_slice(&block);
        } else {
            let reasons = match self.format {
                FORMAT_USTAR => vec![
                    "Format specifies USTAR",
                    &allowed.why_no_ustar,
                    why_only_pax,
                ],
                FORMAT_PAX => vec!["Format specifies PAX", &allowed.why_no_pax],
                FORMAT_GNU => vec!["Format specifies GNU", &allowed.why_no_gnu, why_only_pax],
                _ => vec![
                    &allowed.why_no_ustar,
                    &allowed.why_no_pax,
                    &allowed.why_no_gnu,
                    why_only_pax,
                ],
            };
            return Err(header_error(&reasons));
        }
        Ok(())
    }

    /// Go's `templateV7Plus`, given the name, link target, user and group names as the
    /// format writes them.
    fn template(&self, strings: [&[u8]; 4], number: fn(&mut [u8], i64)) -> [u8; BLOCK] {
        let [name, link, uname, gname] = strings;
        let mut block = [0u8; BLOCK];
        block[156] = self.typeflag;
        format_string(&mut block[0..100], name);
        format_string(&mut block[157..257], link);
        format_string(&mut block[265..297], uname);
        format_string(&mut block[297..329], gname);
        number(&mut block[100..108], self.mode);
        number(&mut block[108..116], self.uid);
        number(&mut block[116..124], self.gid);
        number(&mut block[124..136], self.size);
        number(&mut block[136..148], self.mtime.secs);
        number(&mut block[329..337], self.devmajor);
        number(&mut block[337..345], self.devminor);
        block
    }
}

/// Go's `headerError` text.
fn header_error(reasons: &[&str]) -> String {
    let reasons: Vec<&str> = reasons.iter().copied().filter(|r| !r.is_empty()).collect();
    if reasons.is_empty() {
        return "archive/tar: cannot encode header".to_string();
    }
    format!(
        "archive/tar: cannot encode header: {}",
        reasons.join("; and ")
    )
}

/// The name Go gives a PAX header: `<dir>/PaxHeaders.0/<file>`, cleaned.
fn pax_header_name(name: &[u8]) -> Vec<u8> {
    let split = name.iter().rposition(|&c| c == b'/').map_or(0, |i| i + 1);
    let (dir, file) = name.split_at(split);
    let mut joined = Vec::with_capacity(name.len() + 13);
    for part in [dir, b"PaxHeaders.0", file] {
        if part.is_empty() {
            continue;
        }
        if !joined.is_empty() {
            joined.push(b'/');
        }
        joined.extend_from_slice(part);
    }
    gopath::clean(&joined)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io::Write;
    use std::path::PathBuf;
    use std::process::Command;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;
    use crate::layer::{LayerOutputs, LayerSource, write_layer};

    /// Go's side: the reference's normalization (`normalize <in> <out>`) and inputs
    /// written by Go's own writer (`inputs <out>`).
    const GOLDEN: &str = include_str!("../../tests/golden/normalize/main.go");

    /// The Go tool, built in `dir`; `None` (after saying so) without `go`.
    fn golden(dir: &Path) -> Option<PathBuf> {
        spec_tests::golang::build_program(GOLDEN, dir, "tarlayer")
    }

    fn go(binary: &Path, args: &[&Path]) {
        let out = Command::new(binary).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "tarlayer {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Our rewrite of `input`, as tar bytes.
    fn ours(input: &Path) -> Result<Vec<u8>, LayerError> {
        let out = tempfile::NamedTempFile::new().unwrap();
        let outputs = LayerOutputs {
            tar_file: Some(out.path().to_path_buf()),
            ..LayerOutputs::default()
        };
        write_layer(&LayerSource::tarball(input), &outputs)?;
        Ok(fs::read(out.path()).unwrap())
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn assert_same(input: &Path, golden: &Path, what: &str) {
        let expected = input.with_extension("go");
        go(golden, &[Path::new("normalize"), input, &expected]);
        let expected = fs::read(&expected).unwrap();
        let ours = ours(input).unwrap_or_else(|e| panic!("{what}: {e}"));
        if ours != expected {
            let at = ours.iter().zip(&expected).position(|(a, b)| a != b);
            panic!(
                "{what}: differs from Go at byte {at:?} (ours {} bytes, Go {})",
                ours.len(),
                expected.len()
            );
        }
    }

    /// A tree with odd owners, modes and names, archived by GNU tar in every format
    /// it writes.
    fn gnu_tar_inputs(dir: &Path) -> Vec<(String, PathBuf)> {
        let root = dir.join("tree");
        let deep = root.join("usr/share/a-rather-long-directory-name-to-need-a-prefix-or-more/and-another-one-below-it");
        fs::create_dir_all(&deep).unwrap();
        fs::write(deep.join("file-with-a-long-name.txt"), "deep\n").unwrap();
        fs::write(root.join("usr/share/hello.txt"), "hello\n").unwrap();
        fs::hard_link(
            root.join("usr/share/hello.txt"),
            root.join("usr/share/hard.txt"),
        )
        .unwrap();
        std::os::unix::fs::symlink("hello.txt", root.join("usr/share/link")).unwrap();
        fs::write(root.join("usr/share/é-unicode"), "unicode\n").unwrap();
        let mut inputs = Vec::new();
        for (format, names) in [
            ("gnu", "usr"),
            ("oldgnu", "usr"),
            ("posix", "usr"),
            ("ustar", "usr"),
            (
                "v7",
                "usr/share/hello.txt usr/share/hard.txt usr/share/link",
            ),
        ] {
            let tar = dir.join(format!("gnu-{format}.tar"));
            let status = Command::new("tar")
                .arg(format!("--format={format}"))
                .args([
                    "--owner=someone:1234",
                    "--group=grp:5678",
                    "--mtime=@1234567890.25",
                ])
                .arg("--sort=name")
                .arg("-C")
                .arg(&root)
                .arg("-cf")
                .arg(&tar)
                .args(names.split(' '))
                .status()
                .expect("GNU tar is installed");
            assert!(status.success(), "tar --format={format}");
            inputs.push((format!("GNU tar --format={format}"), tar));
        }
        inputs
    }

    /// A PAX entry as kaniko writes one.
    fn kaniko_entry(builder: &mut tar::Builder<Vec<u8>>) {
        builder
            .append_pax_extensions([
                ("mtime", &b"1234567890.123456789"[..]),
                ("atime", b"1600000000.000000005"),
                ("ctime", b"1600000001.5"),
                ("SCHILY.xattr.user.a", b"b"),
            ])
            .unwrap();
        let mut header = tar::Header::new_ustar();
        header.set_path("usr/tool").unwrap();
        header.set_mode(0o755);
        header.set_uid(1234);
        header.set_gid(5678);
        header.set_username("someone").unwrap();
        header.set_groupname("grp").unwrap();
        header.set_mtime(1_234_567_890);
        header.set_size(5);
        header.set_cksum();
        builder.append(&header, &b"tool\n"[..]).unwrap();
    }

    #[test]
    fn keeps_owners_access_times_and_xattrs_but_not_mtime_or_names() {
        let mut builder = tar::Builder::new(Vec::new());
        kaniko_entry(&mut builder);
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("layer.tar");
        fs::write(&input, builder.into_inner().unwrap()).unwrap();
        let out = ours(&input).unwrap();

        let records =
            "25 SCHILY.xattr.user.a=b\n30 atime=1600000000.000000005\n22 ctime=1600000001.5\n";
        // The PAX header, named as Go names it.
        assert_eq!(&out[0..22], b"usr/PaxHeaders.0/tool\0");
        assert_eq!(out[156], b'x');
        assert_eq!(
            &out[124..136],
            format!("{:011o}\0", records.len()).as_bytes()
        );
        assert_eq!(&out[BLOCK..BLOCK + records.len()], records.as_bytes());
        // The entry: same name, mode and owner, fixed mtime, no names.
        let entry = &out[2 * BLOCK..3 * BLOCK];
        assert_eq!(&entry[0..9], b"usr/tool\0");
        assert_eq!(&entry[100..108], b"0000755\0");
        assert_eq!(&entry[108..124], b"0002322\x000013056\0");
        assert_eq!(&entry[136..148], b"02263523001\0");
        assert_eq!(&entry[257..265], b"ustar\x0000");
        assert_eq!(&entry[265..329], &[0u8; 64][..]);
        assert_eq!(&out[3 * BLOCK..3 * BLOCK + 5], b"tool\n");
        assert_eq!(out.len(), 6 * BLOCK);
        assert!(out[3 * BLOCK + 5..].iter().all(|&b| b == 0));
    }

    #[test]
    fn plain_gzip_and_empty_tarballs() {
        let mut builder = tar::Builder::new(Vec::new());
        kaniko_entry(&mut builder);
        let tar = builder.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.tar");
        let gz = dir.path().join("layer.tgz");
        fs::write(&plain, &tar).unwrap();
        fs::write(&gz, gzip(&tar)).unwrap();
        assert_eq!(ours(&plain).unwrap(), ours(&gz).unwrap());
        // Nothing at all is an empty archive, as for Go's reader.
        let empty = dir.path().join("empty");
        fs::write(&empty, b"").unwrap();
        assert_eq!(ours(&empty).unwrap(), vec![0; 2 * BLOCK]);
    }

    fn error_of(bytes: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("bad.tar");
        fs::write(&input, bytes).unwrap();
        ours(&input).unwrap_err().to_string()
    }

    #[test]
    fn refuses_what_the_reference_cannot_read_or_write() {
        let not_tar = error_of(&[b'a'; BLOCK]);
        assert!(
            not_tar.ends_with("archive/tar: invalid tar header"),
            "{not_tar}"
        );

        let mut builder = tar::Builder::new(Vec::new());
        kaniko_entry(&mut builder);
        let tar = builder.into_inner().unwrap();
        let truncated = error_of(&tar[..3 * BLOCK + 3]);
        assert!(truncated.ends_with(": unexpected EOF"), "{truncated}");
        let cut_header = error_of(&tar[..2 * BLOCK + 100]);
        assert!(cut_header.ends_with(": unexpected EOF"), "{cut_header}");

        let mut global = tar::Header::new_ustar();
        global.set_entry_type(tar::EntryType::XGlobalHeader);
        global.set_path("pax_global_header").unwrap();
        global.set_size(12);
        global.set_cksum();
        let mut builder = tar::Builder::new(Vec::new());
        builder.append(&global, &b"12 comment=\n"[..]).unwrap();
        let global = error_of(&builder.into_inner().unwrap());
        assert!(global.contains("TypeXGlobalHeader"), "{global}");

        let dir = tempfile::tempdir().unwrap();
        let sparse = dir.path().join("sparse");
        let file = fs::File::create(&sparse).unwrap();
        file.set_len(1 << 20).unwrap();
        for format in ["gnu", "posix"] {
            let tar = dir.path().join(format!("{format}.tar"));
            let status = Command::new("tar")
                .arg(format!("--format={format}"))
                .args(["--sparse", "-C"])
                .arg(dir.path())
                .arg("-cf")
                .arg(&tar)
                .arg("sparse")
                .status()
                .expect("GNU tar is installed");
            assert!(status.success());
            let refused = ours(&tar).unwrap_err().to_string();
            assert!(
                refused.contains("sparse files are not supported"),
                "{format}: {refused}"
            );
        }
    }

    #[test]
    fn times_round_trip_as_go_formats_them() {
        for text in [
            "0",
            "1.5",
            "-1.5",
            "-0.25",
            "1234567890.123456789",
            "5.1234567891",
        ] {
            let parsed = parse_pax_time(text.as_bytes()).unwrap();
            let expected = if text == "5.1234567891" {
                "5.123456789"
            } else {
                text
            };
            assert_eq!(String::from_utf8(parsed.pax()).unwrap(), expected);
        }
        assert_eq!(
            parse_pax_time(b"-0.25").unwrap(),
            GoTime {
                secs: -1,
                nanos: 750_000_000
            }
        );
        assert!(parse_pax_time(b"1.2x").is_err());
        assert!(parse_pax_time(b"x").is_err());
    }

    #[test]
    fn rewrites_every_input_as_the_reference_does() {
        let dir = tempfile::tempdir().unwrap();
        let Some(golden) = golden(dir.path()) else {
            return;
        };
        let golden = golden.as_path();
        let go_input = dir.path().join("go-writer.tar");
        go(golden, &[Path::new("inputs"), &go_input]);
        let mut inputs = vec![("Go's writer".to_string(), go_input)];
        inputs.extend(gnu_tar_inputs(dir.path()));
        for (what, input) in &inputs {
            assert_same(input, golden, what);
            // The same compressed, and compressed as two gzip members.
            let bytes = fs::read(input).unwrap();
            let gz = input.with_extension("tar.gz");
            fs::write(&gz, gzip(&bytes)).unwrap();
            assert_same(&gz, golden, &format!("{what}, gzip"));
            let half = bytes.len() / 2;
            let mut two = gzip(&bytes[..half]);
            two.extend(gzip(&bytes[half..]));
            let multi = input.with_extension("multi.gz");
            fs::write(&multi, two).unwrap();
            assert_same(&multi, golden, &format!("{what}, two gzip members"));
        }
    }
}
