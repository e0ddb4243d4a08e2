// Package inspect checks that built binaries are what the release promises: static, stripped,
// for the right platform, built with CGO_ENABLED=0 and -trimpath, stamped with the version built. It reads the files themselves
// (debug/elf, debug/macho, debug/pe, debug/buildinfo) rather than trusting the build's flags.
package inspect

import (
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/version"
)

// Static returns nil when the binary at path is a static, stripped Go binary for p, and
// otherwise one error listing every problem found, each naming the binary.
func Static(path string, p platform.Platform) error {
	var problems []error
	fail := func(format string, args ...any) {
		problems = append(problems, fmt.Errorf("%s: "+format, append([]any{path}, args...)...))
	}
	var err error
	switch p.OS {
	case "darwin":
		err = checkMachO(path, p, fail)
	case "windows":
		err = checkPE(path, p, fail)
	default:
		err = checkELF(path, p, fail)
	}
	if err != nil {
		return fmt.Errorf("%s: cannot read as a %s binary: %w", path, p, err)
	}
	checkBuildInfo(path, p, fail)
	return errors.Join(problems...)
}

// Dist checks the binary of every platform in dist/<DirName>/: Static, and Stamped with s,
// the version being built.
func Dist(dist string, ps []platform.Platform, s version.Stamp) error {
	var errs []error
	for _, p := range ps {
		bin := filepath.Join(dist, p.DirName(), p.BinaryName())
		if _, err := os.Stat(bin); errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("%s: no binary for %s: run `mage build:all` first (PLATFORMS narrows the matrix)", bin, p))
			continue
		}
		errs = append(errs, Static(bin, p), Stamped(bin, p, s))
	}
	return errors.Join(errs...)
}

type failFunc func(format string, args ...any)

var elfMachines = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "arm": elf.EM_ARM, "386": elf.EM_386,
	"riscv64": elf.EM_RISCV, "ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390,
}

func checkELF(path string, p platform.Platform, fail failFunc) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if want := elfMachines[p.Arch]; f.Machine != want {
		fail("architecture is %v, want %v for %s", f.Machine, want, p)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			interp := make([]byte, prog.Filesz)
			_, _ = prog.ReadAt(interp, 0) // only for the message: the check already failed
			fail("dynamically linked: needs the loader %s (PT_INTERP); build with CGO_ENABLED=0",
				strings.TrimRight(string(interp), "\x00"))
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return err
	}
	for _, lib := range libs {
		fail("dynamically linked: needs %s (DT_NEEDED); build with CGO_ENABLED=0", lib)
	}
	if f.Section(".symtab") != nil {
		fail("not stripped: has a .symtab symbol table; link with -ldflags \"-s -w\"")
	}
	var names []string
	for _, s := range f.Sections {
		names = append(names, s.Name)
	}
	checkDWARF(names, fail)
	return nil
}

var machoCPUs = map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}

// Go binaries for darwin always link libSystem (and libresolv, CoreFoundation and Security)
// dynamically, with cgo or without: Apple supports no static binaries. What must not be linked
// is anything the system does not provide (see checkDylibs).
func checkMachO(path string, p platform.Platform, fail failFunc) error {
	f, err := macho.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if want := machoCPUs[p.Arch]; f.Cpu != want {
		fail("architecture is %v, want %v for %s", f.Cpu, want, p)
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return err
	}
	checkDylibs(libs, fail)
	if f.Symtab != nil {
		defined := 0
		for _, s := range f.Symtab.Syms {
			// N_SECT (0x0e within N_TYPE): defined in a section. A stripped binary keeps only
			// the undefined symbols it imports from libSystem.
			if s.Type&0x0e == 0x0e {
				defined++
			}
		}
		if defined > 0 {
			fail("not stripped: %d defined symbols in LC_SYMTAB; link with -ldflags \"-s -w\"", defined)
		}
	}
	var names []string
	for _, s := range f.Sections {
		names = append(names, s.Name)
	}
	checkDWARF(names, fail)
	return nil
}

// checkDylibs rejects libraries outside the system locations every Mac has.
func checkDylibs(libs []string, fail failFunc) {
	for _, lib := range libs {
		if !strings.HasPrefix(lib, "/usr/lib/") && !strings.HasPrefix(lib, "/System/Library/") {
			fail("dynamically linked: needs %s, which macOS does not provide; build with CGO_ENABLED=0", lib)
		}
	}
}

var peMachines = map[string]uint16{
	"amd64": pe.IMAGE_FILE_MACHINE_AMD64, "arm64": pe.IMAGE_FILE_MACHINE_ARM64, "386": pe.IMAGE_FILE_MACHINE_I386,
}

func checkPE(path string, p platform.Platform, fail failFunc) error {
	f, err := pe.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if want := peMachines[p.Arch]; f.Machine != want {
		fail("architecture is %#x, want %#x for %s", f.Machine, want, p)
	}
	if f.NumberOfSymbols > 0 {
		fail("not stripped: %d COFF symbols; link with -ldflags \"-s -w\"", f.NumberOfSymbols)
	}
	var names []string
	for _, s := range f.Sections {
		names = append(names, s.Name)
	}
	checkDWARF(names, fail)
	return nil
}

// checkDWARF reports the first debug section: ELF/PE .debug_* and .zdebug_*, Mach-O __debug_*
// and __zdebug_*.
func checkDWARF(sections []string, fail failFunc) {
	for _, name := range sections {
		n := strings.TrimLeft(name, "._")
		if strings.HasPrefix(n, "debug_") || strings.HasPrefix(n, "zdebug_") {
			fail("not stripped: has DWARF section %s; link with -ldflags \"-s -w\"", name)
			return
		}
	}
}

// checkBuildInfo reads the settings the go command recorded in the binary.
func checkBuildInfo(path string, p platform.Platform, fail failFunc) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		fail("no Go build info (%v): build with the go command, without stripping .go.buildinfo", err)
		return
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	want := map[string]string{"CGO_ENABLED": "0", "-trimpath": "true", "GOOS": p.OS, "GOARCH": p.Arch}
	if p.Arch == "arm" {
		want["GOARM"] = strings.TrimPrefix(p.Variant, "v")
	}
	for _, k := range []string{"GOOS", "GOARCH", "GOARM", "CGO_ENABLED", "-trimpath"} {
		if w, ok := want[k]; ok && settings[k] != w {
			fail("build info says %s=%q, want %q", k, settings[k], w)
		}
	}
}
