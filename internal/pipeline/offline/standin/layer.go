package standin

import (
	"archive/tar"
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// layer writes one image layer as a tarball. Entries are owned by root unless said otherwise,
// dated at the Unix epoch and listed in a fixed order, so the same inputs give the same bytes
// (and the same digest: setup can tell when nothing changed).
type layer struct {
	f    *os.File
	tw   *tar.Writer
	h    hash.Hash // sha256 of the tar stream
	dirs map[string]bool
}

var epoch = time.Unix(0, 0).UTC()

func newLayer(file string) (*layer, error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	return &layer{f: f, tw: tar.NewWriter(io.MultiWriter(f, h)), h: h, dirs: map[string]bool{}}, nil
}

// close finishes the tarball and returns the sha256 of its bytes.
func (l *layer) close() (string, error) {
	err := l.tw.Close()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return hex.EncodeToString(l.h.Sum(nil)), err
}

func (l *layer) header(h *tar.Header) error {
	if err := l.parents(h.Name); err != nil {
		return err
	}
	h.ModTime, h.Format = epoch, tar.FormatPAX
	return l.tw.WriteHeader(h)
}

// parents adds the missing parent directories of name (0755, root).
func (l *layer) parents(name string) error {
	dir := path.Dir(strings.TrimSuffix(name, "/"))
	if dir == "." || l.dirs[dir] {
		return nil
	}
	return l.dir(dir, 0o755, 0, 0)
}

// dir adds a directory; mode may carry the sticky bit (fs.ModeSticky).
func (l *layer) dir(name string, mode fs.FileMode, uid, gid int) error {
	if l.dirs[name] {
		return nil
	}
	l.dirs[name] = true
	m := int64(mode.Perm())
	if mode&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	return l.header(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: m, Uid: uid, Gid: gid})
}

func (l *layer) file(name string, mode fs.FileMode, data []byte) error {
	if err := l.header(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: int64(mode.Perm()), Size: int64(len(data))}); err != nil {
		return err
	}
	_, err := l.tw.Write(data)
	return err
}

func (l *layer) symlink(name, target string) error {
	return l.header(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777})
}

// copyFile adds the file at src as name, executable if src is.
func (l *layer) copyFile(name, src string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	mode := fs.FileMode(0o644)
	if st.Mode()&0o111 != 0 {
		mode = 0o755
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := l.header(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: int64(mode), Size: st.Size()}); err != nil {
		return err
	}
	_, err = io.Copy(l.tw, f)
	return err
}

// tree adds the directory src as dst, in sorted order, with normalized modes (0755 for
// directories and executables, 0644 for the rest): the source may be the read-only module cache.
// Top-level entries named in skip are left out.
func (l *layer) tree(dst, src string, skip ...string) error {
	var paths []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		for _, s := range skip {
			if rel == s {
				return fs.SkipDir
			}
		}
		paths = append(paths, rel)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	for _, rel := range paths {
		name := path.Join(dst, filepath.ToSlash(rel))
		p := filepath.Join(src, rel)
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case st.IsDir():
			err = l.dir(name, 0o755, 0, 0)
		case st.Mode()&fs.ModeSymlink != 0:
			var target string
			if target, err = os.Readlink(p); err == nil {
				err = l.symlink(name, target)
			}
		case st.Mode().IsRegular():
			err = l.copyFile(name, p)
		default:
			err = fmt.Errorf("%s: not a file, directory or symlink", p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// zip adds every file of the zip archive src under dst (Go's zoneinfo.zip stores the time zone
// files uncompressed, in the layout of /usr/share/zoneinfo), in the archive's order.
func (l *layer) zip(dst, src string) error {
	r, err := zip.OpenReader(src)
	if err != nil {
		return err
	}
	defer r.Close()
	for _, f := range r.File {
		if f.FileInfo().IsDir() {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		if !fs.ValidPath(f.Name) {
			return fmt.Errorf("%s: %q is not a relative path inside the archive", src, f.Name)
		}
		if err := l.file(path.Join(dst, f.Name), 0o644, data); err != nil { //nolint:gosec // checked by fs.ValidPath above
			return err
		}
	}
	return nil
}
