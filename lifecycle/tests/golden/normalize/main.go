package main

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func normalize(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader
	if zr, err := gzip.NewReader(f); err == nil {
		r = zr
	} else {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		r = f
	}
	o, err := os.Create(out)
	if err != nil {
		return err
	}
	defer o.Close()
	tr, tw := tar.NewReader(r), tar.NewWriter(o)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		h.ModTime = time.Date(1980, time.January, 1, 0, 0, 1, 0, time.UTC)
		h.Uname, h.Gname = "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	return tw.Close()
}

func inputs(out string) error {
	o, err := os.Create(out)
	if err != nil {
		return err
	}
	defer o.Close()
	tw := tar.NewWriter(o)
	long := strings.Repeat("d", 60) + "/" + strings.Repeat("e", 60) + "/" + strings.Repeat("f", 80)
	pax := func(h *tar.Header) *tar.Header {
		h.Format = tar.FormatPAX
		h.AccessTime = time.Unix(1600000000, 5)
		h.ChangeTime = time.Unix(1600000001, 500000000)
		h.Uname, h.Gname = "someone", "grp"
		return h
	}
	entries := []struct {
		h    *tar.Header
		body string
	}{
		{pax(&tar.Header{Typeflag: tar.TypeDir, Name: "usr/", Mode: 0755, Uid: 1234, Gid: 5678}), ""},
		{pax(&tar.Header{Typeflag: tar.TypeReg, Name: "usr/tool", Mode: 0755, Uid: 1234, Gid: 5678,
			PAXRecords: map[string]string{"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\xff", "comment": "kept"}}), "#!/bin/sh\necho tool\n"},
		{pax(&tar.Header{Typeflag: tar.TypeLink, Name: "usr/tool-link", Linkname: "usr/tool", Mode: 0755}), ""},
		{pax(&tar.Header{Typeflag: tar.TypeSymlink, Name: "usr/sym", Linkname: "tool", Mode: 0777}), ""},
		{&tar.Header{Name: "usr/.wh.old", Typeflag: tar.TypeReg}, ""},
		{&tar.Header{Typeflag: tar.TypeReg, Name: "/big/uid", Mode: 0600, Uid: 1<<21 + 5, Gid: 7, Uname: "u", Gname: "g"}, "x"},
		{&tar.Header{Typeflag: tar.TypeReg, Name: "/" + long, Mode: 0644}, "long"},
		{&tar.Header{Typeflag: tar.TypeReg, Name: "/" + strings.Repeat("n", 120), Mode: 0644}, "unsplittable"},
		{&tar.Header{Typeflag: tar.TypeReg, Name: "/caf\u00e9/na\u00efve", Mode: 0644}, "unicode"},
		{&tar.Header{Typeflag: tar.TypeChar, Name: "/dev/null", Mode: 0666, Devmajor: 1, Devminor: 3}, ""},
		{&tar.Header{Typeflag: tar.TypeFifo, Name: "/run/fifo", Mode: 0600}, ""},
		{&tar.Header{Typeflag: tar.TypeSymlink, Name: "/long-link", Linkname: "/" + long, Mode: 0777}, ""},
		{&tar.Header{Typeflag: tar.TypeReg, Name: "/sub/second", Mode: 0644, ModTime: time.Unix(1234567890, 900000000)}, "rounded"},
		{&tar.Header{Typeflag: tar.TypeReg, Format: tar.FormatGNU, Name: "gnu/" + long, Mode: 0644, Uid: -1, Gid: 1 << 30,
			AccessTime: time.Unix(1500000000, 0), ChangeTime: time.Unix(1500000001, 0), Uname: "gnuuser"}, "gnu body"},
		{&tar.Header{Typeflag: tar.TypeSymlink, Format: tar.FormatGNU, Name: "gnu/link", Linkname: "/" + long, Mode: 0777}, ""},
		{&tar.Header{Typeflag: tar.TypeReg, Format: tar.FormatUSTAR, Name: "ustar/file", Mode: 04755, Uid: 1, Gid: 2, Uname: "a", Gname: "b"}, "ustar"},
		{&tar.Header{Typeflag: tar.TypeReg, Format: tar.FormatPAX, Name: "pax/records", Mode: 0644,
			PAXRecords: map[string]string{"LIBARCHIVE.creationtime": "1", "mtime": "315532801", "uname": ""}}, "records"},
		{&tar.Header{Typeflag: tar.TypeReg, Name: "pax/empty-xattr", Mode: 0644, Uid: 3000000, PAXRecords: map[string]string{"SCHILY.xattr.user.x": ""}}, ""},
	}
	for _, e := range entries {
		h := e.h
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1234567890, 123456789)
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			return err
		}
	}
	return tw.Close()
}

func main() {
	var err error
	switch os.Args[1] {
	case "normalize":
		err = normalize(os.Args[2], os.Args[3])
	case "inputs":
		err = inputs(os.Args[2])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
