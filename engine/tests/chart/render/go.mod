// Built in GOPATH mode (GO111MODULE=off) against Debian's Go packages under
// /usr/share/gocode, never with the module proxy: engine/tests/chart/conftest.py
// copies this folder into a GOPATH of its own and runs `go build` there. The
// file still matters in that mode: only code with a go.mod resolves the
// "/v3" of github.com/Masterminds/sprig/v3 (and sprig's own
// github.com/Masterminds/semver/v3) to Debian's unversioned folders.
module loadpilot/chart-render

go 1.19
