# shellcheck shell=bash
# Shared by tools/bootstrap and tools/bootstrap-cluster: build Go tools once per
# version into a cache outside the clone and link them into .tools/bin.
#
#   . tools/lib-build.sh      (with $root set to the repository root)
#   go_build NAME VERSION TARGET LDFLAGS [WORKDIR [BUILDFLAG]]
#
# Sets: cache (per-version build cache), bin (.tools/bin), logs (.tools/logs).
# Every fresh build appends "NAME VERSION SECONDS" to .tools/logs/build-times.txt.

cache=${DESTATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/destate}
bin=$root/.tools/bin
logs=$root/.tools/logs
mkdir -p "$bin" "$logs" "$cache/tools"

die() { echo "bootstrap: $*" >&2; exit 1; }
say() { echo "bootstrap: $*" >&2; }

need_go() {
  command -v go >/dev/null 2>&1 ||
    die "Go >= $GO_MIN is needed to build the tools (install it: https://go.dev/doc/install or 'apt-get install golang')"
  local have
  have=$(go env GOVERSION | sed 's/^go//')
  [ "$(printf '%s\n%s\n' "$GO_MIN" "$have" | sort -V | head -n1)" = "$GO_MIN" ] ||
    die "Go $have is too old: Go >= $GO_MIN is needed (install a newer Go: https://go.dev/doc/install)"
}

# go_build NAME VERSION TARGET LDFLAGS [WORKDIR [BUILDFLAG]]: builds TARGET (a
# package@version, or a package of the module in WORKDIR, with one more go build flag)
# into the cache and links .tools/bin/NAME.
go_build() {
  local name=$1 version=$2 target=$3 ldflags=$4 workdir=${5:-} flag=${6:-}
  local dest=$cache/tools/$name-$version
  if [ ! -x "$dest/$name" ]; then
    need_go
    say "building $name $version (once per version; log: .tools/logs/$name.log)"
    local tmp=$dest.tmp.$$
    rm -rf "$tmp"; mkdir -p "$tmp"
    local started=$SECONDS
    if [ -n "$workdir" ]; then
      (cd "$workdir" && go build -trimpath ${flag:+"$flag"} -ldflags "$ldflags" -o "$tmp/$name" "$target") >"$logs/$name.log" 2>&1 || build_failed "$name" "$target"
    else
      (cd "$tmp" && GOBIN=$tmp GOFLAGS=-mod=mod go install -trimpath -ldflags "$ldflags" "$target") >"$logs/$name.log" 2>&1 || build_failed "$name" "$target"
      local built
      built=$(find "$tmp" -maxdepth 1 -type f -perm -u+x | head -n1)
      [ "$built" = "$tmp/$name" ] || mv "$built" "$tmp/$name"
    fi
    rm -rf "$dest"; mv "$tmp" "$dest"
    say "built $name $version in $((SECONDS - started))s"
    echo "$name $version $((SECONDS - started))s $(date -u +%FT%TZ)" >>"$logs/build-times.txt"
  fi
  ln -sfn "$dest/$name" "$bin/$name"
}

build_failed() {
  rm -rf "${tmp:-}"  # go_build's half-built directory: the next run starts clean
  if grep -qiE 'dial tcp|no such host|connection refused|i/o timeout|proxy' "$logs/$1.log"; then
    die "could not fetch $2 from the Go module proxy ($(go env GOPROXY)): check the network or GOPROXY (details: .tools/logs/$1.log)"
  fi
  die "building $1 ($2) failed: see .tools/logs/$1.log"
}
