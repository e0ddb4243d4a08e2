package release

import (
	"strings"
	"testing"
)

// What goes out must be what was scanned: any changed, added or missing artifact is named.
func TestFingerprintDifferences(t *testing.T) {
	scanned := prints{
		files:  map[string]string{"a.tar.gz": "1", "b.zip": "2"},
		images: []string{"linux/amd64=sha256:aa", "linux/arm64=sha256:bb"},
	}
	same := prints{
		files:  map[string]string{"a.tar.gz": "1", "b.zip": "2"},
		images: []string{"linux/amd64=sha256:aa", "linux/arm64=sha256:bb"},
	}
	if d := scanned.differences(same); len(d) != 0 {
		t.Fatalf("identical releases differ: %v", d)
	}
	published := prints{
		files:  map[string]string{"a.tar.gz": "9", "c.tar.gz": "3"},
		images: []string{"linux/amd64=sha256:aa", "linux/arm64=sha256:cc"},
	}
	got := strings.Join(scanned.differences(published), "\n")
	for _, want := range []string{"a.tar.gz", "b.zip", "c.tar.gz (not scanned)", "images: scanned"} {
		if !strings.Contains(got, want) {
			t.Errorf("differences lack %q:\n%s", want, got)
		}
	}
}
