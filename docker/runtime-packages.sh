#!/usr/bin/env bash
# Prints, one a line, the distribution packages that own the shared libraries the given binaries
# name in DT_NEEDED (resolved with ldd). Libraries no package owns (an upstream libtorch under
# /opt) are skipped: the image copies those itself. Used by docker/Dockerfile.cuda to install
# exactly the runtime libraries of its build; docker/Dockerfile.cpu lists the same packages
# explicitly (checked on Debian 12).
#   docker/runtime-packages.sh build/server/prunegate-server build/client/prunegate
set -euo pipefail
for binary in "$@"; do
  resolved=$(ldd "$binary")
  for lib in $(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    path=$(awk -v lib="$lib" '$1 == lib && $2 == "=>" { print $3 }' <<<"$resolved")
    if [ -z "$path" ] || [ "$path" = "not" ]; then
      echo "runtime-packages: $binary: $lib not found" >&2
      exit 1
    fi
    real=$(readlink -f "$path")
    # Merged /usr: a package may own the /lib or the /usr/lib spelling of the path.
    owner=$(dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null ||
            dpkg -S "/usr$real" 2>/dev/null || true)
    [ -n "$owner" ] && echo "${owner%%:*}"
  done
done | sort -u
