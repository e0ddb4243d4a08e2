module github.com/slipway-dev/slipway

go 1.26.0

tool github.com/magefile/mage

require (
	github.com/magefile/mage v1.17.2
	golang.org/x/mod v0.42.0
)
