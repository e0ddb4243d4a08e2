package inspect

import (
	"bytes"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/slipway-dev/slipway/internal/pipeline/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/version"
)

// Stamped returns nil when the binary at path carries the version stamp s (internal/buildinfo's
// Version, Commit and Date, which gobuild sets with -ldflags -X), and otherwise an error naming
// each value it lacks. The go command does not record -ldflags in a -trimpath build, and a
// stripped binary has no symbols, so the check looks for each value as a Go string: its bytes
// somewhere in the file's loaded memory, and a string header (address, length) pointing at
// exactly those bytes. The default literal of an unstamped build is still in the file even
// when -X replaced it, but then no string points at it.
func Stamped(path string, p platform.Platform, s version.Stamp) error {
	if s.Commit == version.Dev.Commit || s.Version == version.Dev.Version {
		return fmt.Errorf("%s: the version being built is the unstamped default %s (commit %s): this is not a git "+
			"checkout with a commit; verify:static checks binaries built from one", path, s.Version, s.Commit)
	}
	mem, err := loaded(path, p)
	if err != nil {
		return fmt.Errorf("%s: cannot read as a %s binary: %w", path, p, err)
	}
	ptr := 8
	if p.Arch == "arm" || p.Arch == "386" {
		ptr = 4
	}
	var missing []error
	for _, v := range []struct{ name, value string }{{"version", s.Version}, {"commit", s.Commit}, {"date", s.Date}} {
		if !mem.hasString(v.value, ptr) {
			missing = append(missing, fmt.Errorf("%s: not stamped with %s %s", path, v.name, v.value))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	reports := "another version than the one being built (`mage version`)"
	if mem.hasString(version.Dev.Version, ptr) {
		reports = fmt.Sprintf("%s (commit %s), the unstamped default: it was built without gobuild's -ldflags -X",
			version.Dev.Version, version.Dev.Commit)
	}
	return fmt.Errorf("%w\n%s: it reports %s; rebuild it with `mage build:all`", errors.Join(missing...), path, reports)
}

// segment is a part of the file that is loaded into memory at addr.
type segment struct {
	addr uint64
	data []byte
}

type memory []segment

// hasString reports whether a string header of ptr-byte words points at s's bytes.
func (m memory) hasString(s string, ptr int) bool {
	hdr := make([]byte, 2*ptr)
	for _, seg := range m {
		for off := 0; ; {
			i := bytes.Index(seg.data[off:], []byte(s))
			if i < 0 {
				break
			}
			addr := seg.addr + uint64(off+i)
			if ptr == 4 { // a 32-bit binary: its addresses and lengths fit
				binary.LittleEndian.PutUint32(hdr, uint32(addr))       //nolint:gosec // see above
				binary.LittleEndian.PutUint32(hdr[4:], uint32(len(s))) //nolint:gosec // see above
			} else {
				binary.LittleEndian.PutUint64(hdr, addr)
				binary.LittleEndian.PutUint64(hdr[8:], uint64(len(s)))
			}
			for _, other := range m {
				if bytes.Contains(other.data, hdr) {
					return true
				}
			}
			off += i + 1
		}
	}
	return false
}

// loaded reads the segments of the binary that are loaded into memory, at their addresses.
func loaded(path string, p platform.Platform) (memory, error) {
	var m memory
	add := func(addr uint64, r io.ReaderAt, size uint64) error {
		b := make([]byte, size)
		if _, err := r.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		m = append(m, segment{addr, b})
		return nil
	}
	switch p.OS {
	case "darwin":
		f, err := macho.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		for _, l := range f.Loads {
			if s, ok := l.(*macho.Segment); ok && s.Filesz > 0 {
				if err := add(s.Addr, s, s.Filesz); err != nil {
					return nil, err
				}
			}
		}
	case "windows":
		f, err := pe.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		var base uint64
		switch h := f.OptionalHeader.(type) {
		case *pe.OptionalHeader64:
			base = h.ImageBase
		case *pe.OptionalHeader32:
			base = uint64(h.ImageBase)
		}
		for _, s := range f.Sections {
			if err := add(base+uint64(s.VirtualAddress), s, uint64(s.Size)); err != nil {
				return nil, err
			}
		}
	default:
		f, err := elf.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_LOAD {
				if err := add(prog.Vaddr, prog, prog.Filesz); err != nil {
					return nil, err
				}
			}
		}
	}
	return m, nil
}
