//! Tar headers byte for byte as Go's `archive/tar` writes them for the reference's
//! normalized headers (format left for the writer to choose, mtime
//! 1980-01-01T00:00:01Z, empty user and group names, no access or change times, no
//! xattrs): USTAR when every field fits (a long ASCII name may be split into prefix and
//! name), else PAX with a `PaxHeaders.0` extended header carrying the records that do
//! not fit, sorted by key.

use super::gopath;

/// Size of a tar block.
pub(crate) const BLOCK: usize = 512;

/// The modification time of every entry: 1980-01-01T00:00:01Z.
pub(crate) const NORMALIZED_MTIME: u64 = 315_532_801;

/// Longest PAX extended header Go writes (1 MiB).
const MAX_PAX_DATA: usize = 1 << 20;

/// The type of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryType {
    /// A regular file (`0`).
    Regular,
    /// A symbolic link (`2`).
    Symlink,
    /// A character device (`3`).
    Char,
    /// A block device (`4`).
    Block,
    /// A directory (`5`).
    Dir,
    /// A named pipe (`6`).
    Fifo,
}

impl EntryType {
    fn flag(self) -> u8 {
        match self {
            EntryType::Regular => b'0',
            EntryType::Symlink => b'2',
            EntryType::Char => b'3',
            EntryType::Block => b'4',
            EntryType::Dir => b'5',
            EntryType::Fifo => b'6',
        }
    }
}

/// A normalized header: everything Go's writer looks at for the reference's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header<'a> {
    /// The entry name (an absolute path, no trailing slash).
    pub name: &'a [u8],
    /// The symlink target (empty for other types).
    pub link: &'a [u8],
    /// The type.
    pub entry_type: EntryType,
    /// Permission bits with setuid, setgid and sticky (`0o7777` at most).
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Content length (regular files only, else 0).
    pub size: u64,
    /// Device major number (devices only).
    pub dev_major: u64,
    /// Device minor number (devices only).
    pub dev_minor: u64,
}

/// A header Go's writer cannot encode in USTAR or PAX (it would need GNU, which the
/// reference never produces for files on Linux).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("archive/tar: cannot encode header: {0}")]
pub(crate) struct HeaderError(String);

impl Header<'_> {
    /// Appends the header block(s) of this entry to `out`: a PAX extended header and its
    /// records first when needed, then the entry's own block.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<(), HeaderError> {
        // Which fields USTAR cannot hold, and the PAX records standing in for them.
        let mut ustar = true;
        let mut records: Vec<(&str, Vec<u8>)> = Vec::new();
        if !is_ascii(self.name) || self.name.len() > 100 {
            if split_ustar_path(self.name).is_none() {
                ustar = false;
            }
            records.push(("path", self.name.to_vec()));
        }
        if !is_ascii(self.link) || self.link.len() > 100 {
            ustar = false;
            records.push(("linkpath", self.link.to_vec()));
        }
        for (key, value, width) in [
            ("uid", self.uid, 8),
            ("gid", self.gid, 8),
            ("size", self.size, 12),
        ] {
            if !fits_octal(width, value) {
                ustar = false;
                records.push((key, value.to_string().into_bytes()));
            }
        }
        for (field, value) in [
            ("Mode", u64::from(self.mode)),
            ("Devmajor", self.dev_major),
            ("Devminor", self.dev_minor),
        ] {
            if !fits_octal(8, value) {
                return Err(HeaderError(format!("{field}={value} needs the GNU format")));
            }
        }

        if ustar {
            let (prefix, name) = split_ustar_path(self.name).unwrap_or((&[], self.name));
            let mut block = self.template(name, self.link, Some(prefix));
            finish_block(&mut block);
            out.extend_from_slice(&block);
            return Ok(());
        }

        records.sort_by(|a, b| a.0.cmp(b.0));
        let mut data = Vec::new();
        for (key, value) in &records {
            pax_record(key, value, &mut data);
        }
        if data.len() > MAX_PAX_DATA {
            return Err(HeaderError("PAX records longer than 1 MiB".to_string()));
        }
        self.encode_pax_extended(&data, out);
        let name = to_ascii(self.name);
        let link = to_ascii(self.link);
        let mut block = self.template(&name, &link, None);
        finish_block(&mut block);
        out.extend_from_slice(&block);
        Ok(())
    }

    /// The `x` header carrying `data`, named `<dir>/PaxHeaders.0/<file>` like Go names it,
    /// with its data padded to a block.
    fn encode_pax_extended(&self, data: &[u8], out: &mut Vec<u8>) {
        let split = self
            .name
            .iter()
            .rposition(|&c| c == b'/')
            .map_or(0, |i| i + 1);
        let (dir, file) = self.name.split_at(split);
        let mut joined = Vec::with_capacity(self.name.len() + 16);
        for part in [dir, b"PaxHeaders.0", file] {
            if part.is_empty() {
                continue;
            }
            if !joined.is_empty() {
                joined.push(b'/');
            }
            joined.extend_from_slice(part);
        }
        let mut name = to_ascii(&gopath::clean(&joined));
        name.truncate(100);
        while name.last() == Some(&b'/') {
            name.pop();
        }

        let mut block = [0u8; BLOCK];
        format_string(&mut block[0..100], &name);
        format_octal(&mut block[100..108], 0);
        format_octal(&mut block[108..116], 0);
        format_octal(&mut block[116..124], 0);
        format_octal(&mut block[124..136], data.len() as u64);
        format_octal(&mut block[136..148], 0);
        block[156] = b'x';
        finish_block(&mut block);
        out.extend_from_slice(&block);
        out.extend_from_slice(data);
        out.resize(out.len() + padding(data.len() as u64), 0);
    }

    /// The entry's block before magic and checksum; numbers that do not fit are written
    /// as zero (their PAX records carry them).
    fn template(&self, name: &[u8], link: &[u8], prefix: Option<&[u8]>) -> [u8; BLOCK] {
        let mut block = [0u8; BLOCK];
        format_string(&mut block[0..100], name);
        format_octal(&mut block[100..108], u64::from(self.mode));
        format_octal(&mut block[108..116], self.uid);
        format_octal(&mut block[116..124], self.gid);
        format_octal(&mut block[124..136], self.size);
        format_octal(&mut block[136..148], NORMALIZED_MTIME);
        block[156] = self.entry_type.flag();
        format_string(&mut block[157..257], link);
        // User and group names stay empty.
        format_octal(&mut block[329..337], self.dev_major);
        format_octal(&mut block[337..345], self.dev_minor);
        if let Some(prefix) = prefix {
            format_string(&mut block[345..500], prefix);
        }
        block
    }
}

/// Bytes of zero padding after `size` bytes of content.
pub(crate) fn padding(size: u64) -> usize {
    (size.wrapping_neg() % BLOCK as u64) as usize
}

/// Sets the USTAR magic and version, then the checksum.
fn finish_block(block: &mut [u8; BLOCK]) {
    set_format(block, false);
}

/// Sets the magic and version of USTAR (or of GNU's format), then the checksum (Go's
/// `setFormat`).
pub(crate) fn set_format(block: &mut [u8; BLOCK], gnu: bool) {
    if gnu {
        block[257..263].copy_from_slice(b"ustar ");
        block[263..265].copy_from_slice(b" \0");
    } else {
        block[257..263].copy_from_slice(b"ustar\0");
        block[263..265].copy_from_slice(b"00");
    }
    let sum: u64 = block
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            if (148..156).contains(&i) {
                u64::from(b' ')
            } else {
                u64::from(c)
            }
        })
        .sum();
    format_octal(&mut block[148..155], sum);
    block[155] = b' ';
}

/// Go's `isASCII`: every byte is 1..=0x7F.
pub(crate) fn is_ascii(s: &[u8]) -> bool {
    s.iter().all(|&c| c != 0 && c < 0x80)
}

/// Go's `toASCII`: drops NULs and every byte of a non-ASCII character.
pub(crate) fn to_ascii(s: &[u8]) -> Vec<u8> {
    s.iter().copied().filter(|&c| c != 0 && c < 0x80).collect()
}

/// Whether `value` fits a `width`-byte octal field (with its terminator).
fn fits_octal(width: usize, value: u64) -> bool {
    width >= 22 || value < 1 << ((width - 1) * 3)
}

/// Go's `formatString`: copies (truncating), NUL-terminates when shorter, and when a
/// truncated name ends in slashes, ends it before them.
pub(crate) fn format_string(field: &mut [u8], s: &[u8]) {
    let n = s.len().min(field.len());
    field[..n].copy_from_slice(&s[..n]);
    if s.len() < field.len() {
        field[s.len()] = 0;
    }
    if s.len() > field.len() && field[field.len() - 1] == b'/' {
        let mut end = field.len();
        while end > 0 && s[end - 1] == b'/' {
            end -= 1;
        }
        field[end] = 0;
    }
}

/// Go's `formatOctal`: zero-padded octal and a NUL (zero when it does not fit).
pub(crate) fn format_octal(field: &mut [u8], value: u64) {
    let value = if fits_octal(field.len(), value) {
        value
    } else {
        0
    };
    let digits = format!("{value:o}");
    let width = field.len() - 1;
    let text = if digits.len() < width {
        format!("{}{digits}", "0".repeat(width - digits.len()))
    } else {
        digits
    };
    format_string(field, text.as_bytes());
}

/// Go's `splitUSTARPath`: a name longer than 100 bytes split at a slash into a prefix of
/// at most 155 bytes and a name of at most 100.
pub(crate) fn split_ustar_path(name: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut length = name.len();
    if length <= 100 || !is_ascii(name) {
        return None;
    } else if length > 156 {
        length = 156;
    } else if name[length - 1] == b'/' {
        length -= 1;
    }
    let i = name[..length].iter().rposition(|&c| c == b'/')?;
    let suffix_len = name.len() - i - 1;
    if i == 0 || suffix_len > 100 || suffix_len == 0 || i > 155 {
        return None;
    }
    Some((&name[..i], &name[i + 1..]))
}

/// Appends Go's `formatPAXRecord`: `<length> <key>=<value>\n`, the length counting
/// itself.
fn pax_record(key: &str, value: &[u8], out: &mut Vec<u8>) {
    let base = key.len() + value.len() + 3;
    let mut size = base + base.to_string().len();
    if size.to_string().len() + base != size {
        size = base + size.to_string().len();
    }
    out.extend_from_slice(size.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &[u8]) -> Header<'_> {
        Header {
            name,
            link: b"",
            entry_type: EntryType::Regular,
            mode: 0o644,
            uid: 1000,
            gid: 1001,
            size: 5,
            dev_major: 0,
            dev_minor: 0,
        }
    }

    #[test]
    fn ustar_header_fields() {
        let mut out = Vec::new();
        header(b"/layers/bp/layer/file").encode(&mut out).unwrap();
        assert_eq!(out.len(), BLOCK);
        assert_eq!(&out[0..22], b"/layers/bp/layer/file\0");
        assert_eq!(&out[100..108], b"0000644\0");
        assert_eq!(&out[108..116], b"0001750\0");
        assert_eq!(&out[116..124], b"0001751\0");
        assert_eq!(&out[124..136], b"00000000005\0");
        assert_eq!(&out[136..148], b"02263523001\0");
        assert_eq!(out[156], b'0');
        assert_eq!(&out[257..265], b"ustar\x0000");
        assert_eq!(&out[265..329], &[0u8; 64][..]);
        assert_eq!(&out[329..345], b"0000000\x000000000\0");
        let sum: u64 = out
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(c)
                }
            })
            .sum();
        assert_eq!(&out[148..156], format!("{sum:06o}\0 ").as_bytes());
    }

    #[test]
    fn long_ascii_name_is_split_into_prefix() {
        let name = format!("/{}/{}", "d".repeat(120), "f".repeat(90));
        let mut out = Vec::new();
        header(name.as_bytes()).encode(&mut out).unwrap();
        assert_eq!(out.len(), BLOCK);
        assert_eq!(&out[0..91], format!("{}\0", "f".repeat(90)).as_bytes());
        assert_eq!(&out[345..467], format!("/{}\0", "d".repeat(120)).as_bytes());
    }

    #[test]
    fn unsplittable_name_gets_pax_path() {
        let name = format!("/app/{}", "n".repeat(150));
        let mut out = Vec::new();
        header(name.as_bytes()).encode(&mut out).unwrap();
        // extended header + one block of records + the entry
        assert_eq!(out.len(), 3 * BLOCK);
        assert_eq!(&out[0..18], b"/app/PaxHeaders.0/");
        assert_eq!(out[156], b'x');
        let record = format!("165 path={name}\n");
        assert_eq!(
            &out[124..136],
            format!("{:011o}\0", record.len()).as_bytes()
        );
        assert_eq!(&out[BLOCK..BLOCK + record.len()], record.as_bytes());
        // The entry's own name is the truncated name.
        assert_eq!(&out[2 * BLOCK..2 * BLOCK + 100], &name.as_bytes()[..100]);
    }

    #[test]
    fn big_values_and_unicode_go_to_pax_sorted() {
        let mut h = header("/app/é".as_bytes());
        h.uid = 1 << 21;
        h.size = 1 << 33;
        let mut out = Vec::new();
        h.encode(&mut out).unwrap();
        let records = &out[BLOCK..2 * BLOCK];
        let text = String::from_utf8_lossy(records);
        assert!(
            text.starts_with("16 path=/app/é\n19 size=8589934592\n15 uid=2097152\n"),
            "{text:?}"
        );
        let entry = &out[2 * BLOCK..];
        assert_eq!(&entry[0..6], b"/app/\0");
        assert_eq!(&entry[108..116], b"0000000\0");
        assert_eq!(&entry[124..136], b"00000000000\0");
    }

    #[test]
    fn pax_record_length_counts_itself() {
        let mut out = Vec::new();
        pax_record("path", &[b'a'; 93], &mut out);
        // 4 + 93 + 3 = 100 (3 digits) -> 103
        assert!(out.starts_with(b"103 path="));
        assert_eq!(out.len(), 103);
        let mut out = Vec::new();
        pax_record("path", &[b'a'; 91], &mut out);
        // 98 + 2 digits = 100, whose 3 digits make it 101
        assert!(
            out.starts_with(b"101 path="),
            "{}",
            String::from_utf8_lossy(&out)
        );
        assert_eq!(out.len(), 101);
    }

    #[test]
    fn padding_rounds_to_blocks() {
        assert_eq!(padding(0), 0);
        assert_eq!(padding(1), 511);
        assert_eq!(padding(512), 0);
        assert_eq!(padding(513), 511);
    }
}
