package runproof

import (
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
)

// DefaultBinfmt is where the kernel lists its binfmt_misc handlers.
const DefaultBinfmt = "/proc/sys/fs/binfmt_misc"

// Fix is how to make emulation available: machine preparation, never something a target does.
const Fix = "install QEMU user emulation: on Debian or Ubuntu (as root) " +
	"`apt-get install qemu-user-static binfmt-support`, and if /proc/sys/fs/binfmt_misc is empty " +
	"`mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && update-binfmts --enable`; " +
	"on GitHub Actions, a docker/setup-qemu-action step pinned by commit SHA"

// Entry is one binfmt_misc handler, as /proc/sys/fs/binfmt_misc/<name> describes it.
type Entry struct {
	Name        string
	Enabled     bool
	Interpreter string
	Flags       string // e.g. "PF"; F: the kernel opened the interpreter when it was registered
	Offset      int
	Magic       []byte // nil for an extension handler (e.g. .jar), which never matches an ELF file
	Mask        []byte // nil: every bit of Magic counts
}

// ParseEntry reads the text of a handler file.
func ParseEntry(name, text string) (Entry, error) {
	e := Entry{Name: name}
	for line := range strings.Lines(text) {
		key, val, _ := strings.Cut(strings.TrimSpace(line), " ")
		var err error
		switch key {
		case "enabled":
			e.Enabled = true
		case "flags:":
			e.Flags = val
		case "interpreter":
			e.Interpreter = val
		case "offset":
			e.Offset, err = strconv.Atoi(val)
		case "magic":
			e.Magic, err = hex.DecodeString(val)
		case "mask":
			e.Mask, err = hex.DecodeString(val)
		}
		if err != nil {
			return Entry{}, fmt.Errorf("binfmt_misc entry %s: %s %q: %w", name, key, val, err)
		}
	}
	if e.Mask != nil && len(e.Mask) != len(e.Magic) {
		return Entry{}, fmt.Errorf("binfmt_misc entry %s: mask has %d bytes, magic %d", name, len(e.Mask), len(e.Magic))
	}
	return e, nil
}

// Matches reports whether the kernel would hand a file starting with header to this handler
// (fs/binfmt_misc.c: every magic byte equal under the mask).
func (e Entry) Matches(header []byte) bool {
	if e.Magic == nil || e.Offset < 0 || e.Offset+len(e.Magic) > len(header) {
		return false
	}
	for i, m := range e.Magic {
		mask := byte(0xff)
		if e.Mask != nil {
			mask = e.Mask[i]
		}
		if (header[e.Offset+i]^m)&mask != 0 {
			return false
		}
	}
	return true
}

// elfIdent is what an executable's ELF header says about its platform.
type elfIdent struct {
	class   elf.Class
	order   binary.ByteOrder
	machine elf.Machine
}

var elfIdents = map[string]elfIdent{
	"amd64":   {elf.ELFCLASS64, binary.LittleEndian, elf.EM_X86_64},
	"arm64":   {elf.ELFCLASS64, binary.LittleEndian, elf.EM_AARCH64},
	"arm":     {elf.ELFCLASS32, binary.LittleEndian, elf.EM_ARM},
	"386":     {elf.ELFCLASS32, binary.LittleEndian, elf.EM_386},
	"riscv64": {elf.ELFCLASS64, binary.LittleEndian, elf.EM_RISCV},
	"ppc64le": {elf.ELFCLASS64, binary.LittleEndian, elf.EM_PPC64},
	"s390x":   {elf.ELFCLASS64, binary.BigEndian, elf.EM_S390},
}

// elfHeader is the start of a static Go executable for p: the bytes binfmt_misc matches on.
// It is made from p, not read from the artifact, because whether p can run is a property of
// the machine; a file that is not what its name says then fails when it runs.
func elfHeader(p platform.Platform) ([]byte, error) {
	id, ok := elfIdents[p.Arch]
	if !ok {
		return nil, fmt.Errorf("no ELF machine known for %s", p)
	}
	h := make([]byte, 20)
	copy(h, elf.ELFMAG)
	h[elf.EI_CLASS] = byte(id.class)
	h[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	if id.order == binary.BigEndian {
		h[elf.EI_DATA] = byte(elf.ELFDATA2MSB)
	}
	h[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	id.order.PutUint16(h[16:], uint16(elf.ET_EXEC))
	id.order.PutUint16(h[18:], uint16(id.machine))
	return h, nil
}

// How says how this machine runs Linux executables for p: natively, or emulated by the named
// binfmt_misc handler (read from the directory binfmt, DefaultBinfmt on a real machine). When
// it cannot, notRun says why, with the fix. It reads the kernel's handler list instead of trying
// a binary, so a missing emulator is told apart from a broken artifact.
func How(binfmt string, p platform.Platform) (handler, notRun string) {
	if runtime.GOOS != "linux" {
		return "", fmt.Sprintf("this machine runs %s, not Linux: run the check on Linux (CI does)", runtime.GOOS)
	}
	if p.OS != "linux" {
		return "", fmt.Sprintf("%s is not a Linux platform", p)
	}
	if p.Arch == runtime.GOARCH {
		return "", ""
	}
	header, err := elfHeader(p)
	if err != nil {
		return "", err.Error()
	}
	status, err := os.ReadFile(filepath.Join(binfmt, "status"))
	if err != nil {
		return "", fmt.Sprintf("no emulation for %s: binfmt_misc is not mounted (%s has no status file); %s", p, binfmt, Fix)
	}
	if strings.TrimSpace(string(status)) != "enabled" {
		return "", fmt.Sprintf("no emulation for %s: binfmt_misc is disabled (%s/status); %s", p, binfmt, Fix)
	}
	names, err := os.ReadDir(binfmt)
	if err != nil {
		return "", fmt.Sprintf("no emulation for %s: %v; %s", p, err, Fix)
	}
	var unusable []string
	for _, n := range names {
		if n.IsDir() || n.Name() == "status" || n.Name() == "register" {
			continue
		}
		text, err := os.ReadFile(filepath.Join(binfmt, n.Name()))
		if err != nil {
			unusable = append(unusable, err.Error())
			continue
		}
		e, err := ParseEntry(n.Name(), string(text))
		if err != nil {
			unusable = append(unusable, err.Error())
			continue
		}
		if !e.Matches(header) {
			continue
		}
		switch {
		case !e.Enabled:
			unusable = append(unusable, fmt.Sprintf("handler %s is disabled", e.Name))
		case !strings.Contains(e.Flags, "F"):
			// Without F the kernel looks the interpreter up in the executable's root directory,
			// where a container (or this check's binary, see runInOwnRoot) does not have it.
			unusable = append(unusable, fmt.Sprintf("handler %s (%s) was registered without the F (fix-binary) flag, so it "+
				"cannot emulate inside a container or a root directory without QEMU; re-register it with F (Debian's qemu-user-static "+
				"and docker/setup-qemu-action do)", e.Name, e.Interpreter))
		default:
			return e.Name, ""
		}
	}
	why := "no binfmt_misc handler in " + binfmt + " matches its ELF header"
	if len(unusable) > 0 {
		slices.Sort(unusable)
		why = strings.Join(unusable, "; ")
	}
	return "", fmt.Sprintf("no emulation for %s: %s; %s", p, why, Fix)
}
