module github.com/slipway-dev/slipway/tools/goreleaser

go 1.26
