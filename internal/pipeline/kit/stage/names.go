package stage

// Names of the release's stages, as its summary shows them and the bench groups them.
const (
	Preflight   = "preflight"
	Tools       = "tools"
	Prepare     = "prepare"
	SigningKey  = "signing key"
	StandInBase = "offline stand-in base"
	ImageInfra  = "image registry and base"
	// Parts of goreleaser's run, shown when they are left out.
	Signatures          = "signatures"
	SBOMs               = "SBOMs"
	ImagesAndSignatures = "images and signatures"

	// Goreleaser is the goreleaser run; the summary shows its timed pipes instead, each named
	// Goreleaser + ": " + the pipe as goreleaser logs it.
	Goreleaser          = "goreleaser"
	GoreleaserBuild     = Goreleaser + ": building binaries"
	GoreleaserArchives  = Goreleaser + ": archives"
	GoreleaserSBOMs     = Goreleaser + ": software bill of materials"
	GoreleaserChecksums = Goreleaser + ": calculating checksums"
	GoreleaserSign      = Goreleaser + ": signing artifacts"
	GoreleaserKo        = Goreleaser + ": ko"

	ImageSignatures = "image signatures"
	ImageSBOMs      = "image SBOMs"
	RunProof        = "run proof"
	Provenance      = "provenance"
	Govulncheck     = "govulncheck"
	VEX             = "VEX"
	Scan            = "scan"
	Contents        = "contents"
	Verify          = "verify"

	// A publishing release's own stages.
	PublishingChecks      = "publishing checks"
	ChecksumsSignature    = "checksums signature"
	ImageSBOMAttestations = "image SBOM attestations"
	ProvenanceSignatures  = "provenance signatures"
	VEXAttestations       = "VEX attestations"
	CopyImages            = "copy images"
	VerifyCopiedImages    = "verify copied images"
	GitHubDraft           = "GitHub release: draft"
	ImageTags             = "image tags"
	ContentsPublished     = "contents (published)"
	VerifyPublished       = "verify (published)"
	GitHubPublic          = "GitHub release: public"
)
