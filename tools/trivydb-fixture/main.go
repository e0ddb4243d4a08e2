// Command trivydb-fixture writes a tiny Trivy vulnerability database as an OCI image layout,
// ready for `crane push <dir> <registry>/<repo>:2`: the artifact Trivy downloads with
// --db-repository. The scan gate's end-to-end tests use it to prove the vulnerability part of
// the gate fails on a real finding, without the real database (which cannot be downloaded here).
//
// It is its own module so that trivy-db's dependencies stay out of the service's go.mod; its
// trivy-db version is the one tools/trivy pins (a test in internal/pipeline/scan checks that),
// so the schema always matches the Trivy that reads it.
//
//	go run . -out DIR -module golang.org/x/mod -vulnerable "< 99.0.0" -id GHSA-xxxx-xxxx-xxxx
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
	"github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy-db/pkg/vulnsrc/vulnerability"
	bolt "go.etcd.io/bbolt"
)

// Media types of the artifact trivy-db publishes (`oras push --artifact-type
// application/vnd.aquasec.trivy.config.v1+json ... db.tar.gz:application/vnd.aquasec.trivy.db.layer.v1.tar+gzip`);
// Trivy refuses a layer of any other type (trivy pkg/db: dbMediaType).
const (
	configMediaType = "application/vnd.aquasec.trivy.config.v1+json"
	layerMediaType  = "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip"
	// Trivy names the downloaded file after this annotation and refuses a layer without it.
	titleAnnotation = "org.opencontainers.image.title"
)

// The Go advisories Trivy reads for go.mod files and Go binaries live in buckets named
// "go::<data source>"; GHSA is where third-party modules come from in the real database.
var ghsaGo = types.DataSource{
	ID:   vulnerability.GHSA,
	Name: "GitHub Security Advisory Go",
	URL:  "https://github.com/advisories?query=type%3Areviewed+ecosystem%3Ago",
}

func main() {
	var a advisory
	out := flag.String("out", "", "directory for the OCI image layout (created; must not exist)")
	flag.StringVar(&a.Module, "module", "", "Go module path the advisory affects")
	flag.StringVar(&a.Vulnerable, "vulnerable", "", `affected versions, e.g. "< 99.0.0"`)
	flag.StringVar(&a.ID, "id", "", "advisory ID, e.g. GHSA-xxxx-xxxx-xxxx")
	flag.StringVar(&a.Severity, "severity", "HIGH", "LOW, MEDIUM, HIGH or CRITICAL")
	flag.StringVar(&a.Title, "title", "fixture advisory for the scan gate's tests", "advisory title")
	flag.Parse()
	if err := write(*out, a); err != nil {
		fmt.Fprintln(os.Stderr, "trivydb-fixture:", err)
		os.Exit(1)
	}
}

type advisory struct {
	Module, Vulnerable, ID, Severity, Title string
}

func write(out string, a advisory) error {
	if out == "" || a.Module == "" || a.Vulnerable == "" || a.ID == "" {
		return errors.New("-out, -module, -vulnerable and -id are required")
	}
	sev, err := types.NewSeverity(strings.ToUpper(a.Severity))
	if err != nil {
		return err
	}
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("%s exists: pass a new directory", out)
	}
	work, err := os.MkdirTemp("", "trivydb-fixture-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if err := buildDB(work, a, sev); err != nil {
		return err
	}
	layer, err := tarGz(work, db.Path(""), metadata.Path(""))
	if err != nil {
		return err
	}
	return writeLayout(out, layer)
}

// buildDB writes trivy.db and metadata.json into dir with trivy-db's own code, so the format is
// exactly what the pinned Trivy reads.
func buildDB(dir string, a advisory, sev types.Severity) error {
	if err := db.Init(dir); err != nil {
		return err
	}
	dbc := db.Config{}
	bucket := "go::" + ghsaGo.Name
	err := dbc.BatchUpdate(func(tx *bolt.Tx) error {
		if err := dbc.PutDataSource(tx, bucket, ghsaGo); err != nil {
			return err
		}
		adv := types.Advisory{VulnerableVersions: []string{a.Vulnerable}}
		if err := dbc.PutAdvisory(tx, []string{bucket, a.Module}, a.ID, &adv); err != nil {
			return err
		}
		return dbc.PutVulnerability(tx, a.ID, types.Vulnerability{
			Title:          a.Title,
			Description:    "Written by tools/trivydb-fixture; not a real advisory.",
			VendorSeverity: types.VendorSeverity{ghsaGo.ID: sev},
		})
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	return metadata.NewClient(dir).Update(metadata.Metadata{
		Version:    db.SchemaVersion,
		UpdatedAt:  now,
		NextUpdate: now.Add(24 * time.Hour),
	})
}

// tarGz packs the named files of dir, the layout of the real db.tar.gz.
func tarGz(dir string, names ...string) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range names {
		data, err := root.ReadFile(name)
		if err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int               `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// writeLayout writes an OCI image layout holding one manifest: the Trivy config and the layer.
func writeLayout(out string, layer []byte) error {
	blobs := filepath.Join(out, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o750); err != nil {
		return err
	}
	put := func(mediaType string, data []byte, annotations map[string]string) (descriptor, error) {
		sum := sha256.Sum256(data)
		hexSum := hex.EncodeToString(sum[:])
		d := descriptor{MediaType: mediaType, Digest: "sha256:" + hexSum, Size: len(data), Annotations: annotations}
		return d, os.WriteFile(filepath.Join(blobs, hexSum), data, 0o600)
	}
	config, err := put(configMediaType, []byte("{}"), nil)
	if err != nil {
		return err
	}
	layerDesc, err := put(layerMediaType, layer, map[string]string{titleAnnotation: "db.tar.gz"})
	if err != nil {
		return err
	}
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        config,
		"layers":        []descriptor{layerDesc},
	})
	if err != nil {
		return err
	}
	manifestDesc, err := put("application/vnd.oci.image.manifest.v1+json", manifest, nil)
	if err != nil {
		return err
	}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests":     []descriptor{manifestDesc},
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "index.json"), index, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o600)
}
