// Command golden writes layer tars with Go's archive/tar the way the CNB lifecycle
// writes them, so that tests can compare the Rust layer writer's bytes with Go's.
//
// Usage:
//
//	golden dir <layer-dir> <uid> <gid> <out.tar>
//	golden files <root> <uid> <gid> <list> <out.tar>
//	golden launcher <launcher> <out.tar>
//	golden process-types <out.tar> [type...]
//
// "dir" archives the directory's parents (their own owner) then the directory tree
// (lexical walk, owned by uid:gid). "files" archives the parents of <root> then the
// absolute paths listed one per line in <list>, sorted, owned by uid:gid (an app
// slice). Every header gets mtime 1980-01-01T00:00:01Z and empty user/group names.
package main

import (
	"archive/tar"
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"
)

var epoch = time.Date(1980, time.January, 1, 0, 0, 1, 0, time.UTC)

type layerWriter struct {
	tw       *tar.Writer
	owned    bool
	uid, gid int
}

func (w *layerWriter) header(h *tar.Header) error {
	h.ModTime = epoch
	h.Uname, h.Gname = "", ""
	if w.owned {
		h.Uid, h.Gid = w.uid, w.gid
	}
	return w.tw.WriteHeader(h)
}

func (w *layerWriter) file(path string, info os.FileInfo) error {
	if info.Mode()&os.ModeSocket != 0 {
		return nil
	}
	h, err := tar.FileInfoHeader(info, "")
	if err != nil {
		return err
	}
	h.Name = path
	if info.Mode()&os.ModeSymlink != 0 {
		if h.Linkname, err = os.Readlink(path); err != nil {
			return err
		}
	}
	if err := w.header(h); err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w.tw, f)
	return err
}

// above lists the directories above path (not "/"), outermost first.
func (w *layerWriter) above(path string) error {
	var dirs []string
	for d := filepath.Dir(path); d != "/"; d = filepath.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	for _, d := range dirs {
		info, err := os.Stat(d)
		if err != nil {
			return err
		}
		if err := w.file(d, info); err != nil {
			return err
		}
	}
	return nil
}

func rootDir(name string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0755}
}

func run(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: golden dir|files|launcher|process-types ...")
	}
	outPath := args[len(args)-1]
	if args[0] == "process-types" {
		outPath = args[1]
	}
	out, err := os.Create(outPath)
	if err != nil {
		return err
	}
	defer out.Close()
	w := &layerWriter{tw: tar.NewWriter(out)}

	switch args[0] {
	case "dir", "files":
		root, err := filepath.Abs(args[1])
		if err != nil {
			return err
		}
		if w.uid, err = strconv.Atoi(args[2]); err != nil {
			return err
		}
		if w.gid, err = strconv.Atoi(args[3]); err != nil {
			return err
		}
		if args[0] == "dir" {
			err = w.tree(root)
		} else {
			err = w.list(root, args[4])
		}
		if err != nil {
			return err
		}
	case "launcher":
		info, err := os.Stat(args[1])
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		h.Name, h.Uid, h.Gid, h.Mode = "/cnb/lifecycle/launcher", 0, 0, 0755
		for _, d := range []*tar.Header{rootDir("/cnb"), rootDir("/cnb/lifecycle"), h} {
			if err := w.header(d); err != nil {
				return err
			}
		}
		f, err := os.Open(args[1])
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.Copy(w.tw, f); err != nil {
			return err
		}
	case "process-types":
		hdrs := []*tar.Header{rootDir("/cnb"), rootDir("/cnb/process")}
		for _, t := range args[2:] {
			hdrs = append(hdrs, &tar.Header{
				Typeflag: tar.TypeSymlink,
				Name:     filepath.Join("/cnb/process", t),
				Linkname: "/cnb/lifecycle/launcher",
				Mode:     0755,
			})
		}
		for _, h := range hdrs {
			if err := w.header(h); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unknown mode %q", args[0])
	}
	return w.tw.Close()
}

// tree archives the parents of root, then root and everything below it.
func (w *layerWriter) tree(root string) error {
	if err := w.above(root); err != nil {
		return err
	}
	w.owned = true
	return filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return w.file(path, info)
	})
}

// list archives the parents of root, then the absolute paths listed in the file at
// listPath, sorted; nothing at all when the list is empty.
func (w *layerWriter) list(root, listPath string) error {
	f, err := os.Open(listPath)
	if err != nil {
		return err
	}
	defer f.Close()
	var paths []string
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if scanner.Text() != "" {
			paths = append(paths, scanner.Text())
		}
	}
	if err := scanner.Err(); err != nil {
		return err
	}
	if len(paths) == 0 {
		return nil
	}
	if err := w.above(root); err != nil {
		return err
	}
	w.owned = true
	sort.Strings(paths)
	for _, p := range paths {
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if err := w.file(p, info); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "golden:", err)
		os.Exit(1)
	}
}
