package inspect

import (
	"bytes"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/version"
)

// Stamped returns nil when the binary at path carries the version stamp s (internal/buildinfo's
// Version, Commit and Date, which gobuild sets with -ldflags -X), and otherwise an error naming
// each value it lacks. The go command does not record -ldflags in a -trimpath build, and a
// stripped binary has no symbols, so the check looks for each value as a Go string: its bytes
// in the read-only data, and a string header (address, length) in the writable data, where
// package variables live, pointing at exactly those bytes. The default literal of an unstamped
// build is still in the file when -X replaced it, but then no variable points at it.
func Stamped(path string, p platform.Platform, s version.Stamp) error {
	if s.Commit == version.Dev.Commit || s.Version == version.Dev.Version {
		return fmt.Errorf("%s: the version being built is the unstamped default %s (commit %s): this is not a git "+
			"checkout with a commit; verify:static checks binaries built from one", path, s.Version, s.Commit)
	}
	b, err := readData(path, p)
	if err != nil {
		return fmt.Errorf("%s: cannot read as a %s binary: %w", path, p, err)
	}
	var missing []error
	for _, v := range []struct{ name, value string }{{"version", s.Version}, {"commit", s.Commit}, {"date", s.Date}} {
		if !b.hasString(v.value) {
			missing = append(missing, fmt.Errorf("%s: not stamped with %s %s", path, v.name, v.value))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	reports := "another version than the one being built (`mage version`)"
	if b.hasString(version.Dev.Version) {
		reports = fmt.Sprintf("%s (commit %s), the unstamped default: it was built without gobuild's -ldflags -X",
			version.Dev.Version, version.Dev.Commit)
	}
	return fmt.Errorf("%w\n%s: it reports %s; rebuild it with `mage build:all`", errors.Join(missing...), path, reports)
}

// Where a Go binary keeps string bytes (read-only data) and package variables (writable data),
// by section name in ELF, Mach-O and PE. Reading only these keeps the check to a few
// milliseconds a binary: verify:static runs on every build:all, no-op builds included.
var (
	rodataSections = []string{".rodata", "__rodata", ".rdata"}
	dataSections   = []string{".noptrdata", ".data", "__noptrdata", "__data"}
)

// section is a section's bytes and the address they are loaded at.
type section struct {
	addr uint64
	data []byte
}

// binaryData is what Stamped reads of a binary.
type binaryData struct {
	rodata, data []section
	ptr          int // pointer size in bytes
}

// hasString reports whether a package variable holds exactly s: a string header in the data
// pointing at s's bytes in the read-only data.
func (b binaryData) hasString(s string) bool {
	hdr := make([]byte, 2*b.ptr)
	for _, ro := range b.rodata {
		for off := 0; ; {
			i := bytes.Index(ro.data[off:], []byte(s))
			if i < 0 {
				break
			}
			addr := ro.addr + uint64(off+i)
			if b.ptr == 4 { // a 32-bit binary: its addresses and lengths fit
				binary.LittleEndian.PutUint32(hdr, uint32(addr))       //nolint:gosec // see above
				binary.LittleEndian.PutUint32(hdr[4:], uint32(len(s))) //nolint:gosec // see above
			} else {
				binary.LittleEndian.PutUint64(hdr, addr)
				binary.LittleEndian.PutUint64(hdr[8:], uint64(len(s)))
			}
			for _, d := range b.data {
				if bytes.Contains(d.data, hdr) {
					return true
				}
			}
			off += i + 1
		}
	}
	return false
}

// readData reads the read-only and writable data sections of the binary at path.
func readData(path string, p platform.Platform) (binaryData, error) {
	b := binaryData{ptr: 8}
	if p.Arch == "arm" || p.Arch == "386" {
		b.ptr = 4
	}
	add := func(name string, addr uint64, read func() ([]byte, error)) error {
		var into *[]section
		switch {
		case slices.Contains(rodataSections, name):
			into = &b.rodata
		case slices.Contains(dataSections, name):
			into = &b.data
		default:
			return nil
		}
		data, err := read()
		*into = append(*into, section{addr, data})
		return err
	}
	var err error
	switch p.OS {
	case "darwin":
		var f *macho.File
		if f, err = macho.Open(path); err != nil {
			return b, err
		}
		defer f.Close()
		for _, s := range f.Sections {
			if err = add(s.Name, s.Addr, s.Data); err != nil {
				return b, err
			}
		}
	case "windows":
		var f *pe.File
		if f, err = pe.Open(path); err != nil {
			return b, err
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
			if err = add(s.Name, base+uint64(s.VirtualAddress), s.Data); err != nil {
				return b, err
			}
		}
	default:
		var f *elf.File
		if f, err = elf.Open(path); err != nil {
			return b, err
		}
		defer f.Close()
		for _, s := range f.Sections {
			if err = add(s.Name, s.Addr, s.Data); err != nil {
				return b, err
			}
		}
	}
	if len(b.rodata) == 0 || len(b.data) == 0 {
		return b, errors.New("no read-only or no writable data section: not a Go binary this check knows")
	}
	return b, nil
}
