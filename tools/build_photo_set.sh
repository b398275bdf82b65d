#!/usr/bin/env bash
# Rebuilds the photo set of issue 15 (training data for the bundled model) from Debian packages.
#
#   tools/build_photo_set.sh [--allow-missing] [OUT_DIR]     (OUT_DIR defaults to data/photos in the repository)
#
# Every photo comes from a freely licensed Debian package named in data/photo_sources.tsv, one row per photo:
# the package and version, the file's path inside it, its SHA-256, its licence and author. The script downloads
# those packages with `apt-get download` (nothing is installed on the system), unpacks only the listed files with
# dpkg-deb, checks each against its SHA-256 and writes it to OUT_DIR/train/ or OUT_DIR/heldout/. No photo lives in
# the repository; this script and the list are the data set.
#
# Files that are not plain files in a package:
#   - photos inside a Qt resource bundle (GCompris' .rcc files) have "bundle.rcc!/inner/path" as path and their byte
#     range in the bundle as member_bytes (offset+length); they are cut out with dd and checked like any file;
#   - WebP photos (the project's image reader decodes JPEG, PNG and BMP) are decoded to PNG with dwebp from Debian's
#     webp package, itself unpacked into the temporary folder, not installed.
#
# The held-out split: a photo is held out when the first 8 hex digits of sha256("14:<package>:<path>") are 0 to 11
# mod 100 (about 12%), where <path> has its extension and a trailing "_<digits>" removed, so that numbered shots of
# one scene (bar55.jpg, bar55_2.jpg) land on the same side. The rule names no version, so a package update moves no
# photo between the splits; the list's split column must agree with it (checked below). The salt 14 was chosen once,
# as the first of 0, 1, 2, ... whose held-out part has at least 4 photos of people and 8 each with sky, vegetation
# and water (the evaluation's content classes); changing it would move photos between the splits.
#
# When the registry no longer serves a pinned version, the script takes the version it does serve and says so in one
# line; every file is still checked against the list's SHA-256. A file that is missing or whose bytes differ is left
# out with one line naming it, never copied: its licence and content were checked for those exact bytes only. The
# other photos are still written (leaving one out cannot leak a held-out photo into training, as the split of every
# photo is fixed by the list), and the script then exits with status 3 so that a caller notices the set is smaller
# than the list; --allow-missing makes that exit 0.
#
# Needs: bash, apt-get, apt-cache, dpkg-deb, tar, dd, sha256sum (a stock Debian); root only if the package lists are
# absent or stale (it runs `apt-get update` once then). Downloads about 290 MB; the set takes about 205 MB on disk;
# about 2 minutes on 2 cores, most of it decoding WebP.
set -euo pipefail

allow_missing=0
out=
for arg in "$@"; do
  case $arg in
    --allow-missing) allow_missing=1 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    -*) echo "build_photo_set: unknown option $arg" >&2; exit 2 ;;
    *) [[ -z $out ]] || { echo "build_photo_set: one output folder only" >&2; exit 2; }; out=$arg ;;
  esac
done
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${out:-$root/data/photos}
list=${PHOTO_SOURCES:-$root/data/photo_sources.tsv}   # PHOTO_SOURCES: another list (for tests)
heldout_percent=12
split_salt=14

say() { printf 'build_photo_set: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

for tool in apt-get apt-cache dpkg-deb tar dd sha256sum; do
  command -v "$tool" >/dev/null || die "needs $tool (a Debian system)"
done
[[ -r $list ]] || die "cannot read $list"

work=$(mktemp -d "${TMPDIR:-/tmp}/photo-set.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" "$work/x" "$work/tools"
mkdir -p "$out"
stage=$(mktemp -d "$out/.staging.XXXXXX")
trap 'rm -rf "$work" "$stage"' EXIT
mkdir -p "$stage/train" "$stage/heldout"

# --- the package registry ---------------------------------------------------------------------------------------
updated=0
# Refreshes the package lists once, when a look-up finds nothing (a fresh machine has no lists at all).
refresh_lists() {
  ((updated)) && return 1
  updated=1
  say "updating the package lists (apt-get update)"
  apt-get update -qq >"$work/apt-update.log" 2>&1 || { cat "$work/apt-update.log" >&2; die "apt-get update failed"; }
}
# The version the registry serves for "pkg" or "pkg=version", empty if none.
served_version() {
  apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -n 1
}
# Downloads a package into $work/debs and prints the .deb's path. Argument: "pkg" or "pkg=version".
# (As root, apt-get hands downloads to its _apt user, who cannot write into mktemp's private folder: hence the option.)
download() {
  local debs
  (cd "$work/debs" && apt-get download -qq -o APT::Sandbox::User=root "$1" >"$work/download.log" 2>&1) ||
    { cat "$work/download.log" >&2; return 1; }
  debs=("$work/debs/${1%%=*}_"*.deb)
  [[ -f ${debs[0]} ]] || { say "apt-get download $1 left no .deb"; return 1; }
  printf '%s\n' "${debs[0]}"
}
# Fetches a package at its pinned version (or, when the registry no longer has it, the version it serves: said in one
# line), unpacks the given paths into $work/x/<pkg> and records the version in got_version; returns 1 when the package
# is gone. (Not run in a subshell, so that the lists are refreshed once per run, not once per package.)
declare -A got_version
fetch_package() {
  local pkg=$1 want=$2; shift 2
  local got deb
  got=$(served_version "$pkg=$want")
  if [[ -z $got ]] && [[ -z $(served_version "$pkg") ]] && refresh_lists; then got=$(served_version "$pkg=$want"); fi
  if [[ -z $got ]]; then
    got=$(served_version "$pkg")
    [[ -n $got ]] || { say "MISSING PACKAGE: $pkg is not in the registry: its photos are left out"; return 1; }
    say "VERSION CHANGED: $pkg $want is no longer served, using $got (each file is still checked by its SHA-256)"
    want=$got
  fi
  # Stale lists name files the mirror has dropped: refresh them once and retry.
  deb=$(download "$pkg=$want") || { refresh_lists && deb=$(download "$pkg=$want"); } || return 1
  mkdir -p "$work/x/$pkg"
  # Only the listed files: the wallpaper packages hold every picture in a dozen sizes. A listed file that the
  # package lacks makes tar complain; that file is then reported as missing below, so tar's status is not fatal.
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/x/$pkg" "${@/#/./}" 2>>"$work/tar.log" || true
  got_version[$pkg]=$got
}

# --- the list -----------------------------------------------------------------------------------------------------
# Columns: name split source path member_bytes sha256 licence attribution content (a header line first).
header=$(head -n 1 "$list")
[[ $header == $'name\tsplit\tsource\tpath\tmember_bytes\tsha256\tlicence\tattribution\tcontent' ]] ||
  die "unexpected header in $list: $header"

# The split the rule above gives a row (see the header comment).
split_of() {
  local key=$split_salt:$1:$2 h
  key=${key%.*}
  [[ $key =~ ^(.*)_[0-9]+$ ]] && key=${BASH_REMATCH[1]}
  h=$(printf '%s' "$key" | sha256sum | cut -c1-8)
  if (( 16#$h % 100 < heldout_percent )); then echo heldout; else echo train; fi
}

# One pass over the list: check it and gather, per package, its pinned version and the paths to unpack.
declare -A pinned paths
declare -A seen_names
need_webp=0
rows=0
while IFS=$'\t' read -r name split source path member sha _; do
  rows=$((rows + 1))
  [[ $source =~ ^deb:([a-z0-9][a-z0-9.+-]*)=([^=]+)$ ]] ||
    die "row $name: source must be deb:<package>=<version>, got '$source' (only Debian packages are used)"
  pkg=${BASH_REMATCH[1]} ver=${BASH_REMATCH[2]}
  [[ -z ${pinned[$pkg]:-} || ${pinned[$pkg]} == "$ver" ]] || die "package $pkg listed at two versions"
  pinned[$pkg]=$ver
  [[ $split == train || $split == heldout ]] || die "row $name: split must be train or heldout"
  [[ $(split_of "$pkg" "$path") == "$split" ]] || die "row $name: split column says $split, the split rule does not"
  [[ $sha =~ ^[0-9a-f]{64}$ ]] || die "row $name: bad sha256"
  [[ $name =~ ^[A-Za-z0-9._-]+\.(jpg|jpeg|png)$ && -z ${seen_names[$name]:-} ]] || die "row $name: bad or repeated name"
  seen_names[$name]=1
  if [[ $path == *'!'* ]]; then
    [[ $member =~ ^[0-9]+\+[0-9]+$ ]] || die "row $name: a bundle member needs member_bytes offset+length"
  else
    [[ $member == - ]] || die "row $name: member_bytes is only for bundle members (path with '!')"
  fi
  [[ ${path##*.} == webp ]] && need_webp=1
  paths[$pkg]+="${path%%!*}"$'\n'
done < <(tail -n +2 "$list")
((rows > 0)) || die "$list lists no photo"

# --- download and unpack ------------------------------------------------------------------------------------------
for pkg in $(printf '%s\n' "${!pinned[@]}" | sort); do
  mapfile -t want < <(printf '%s' "${paths[$pkg]}" | sort -u)
  fetch_package "$pkg" "${pinned[$pkg]}" "${want[@]}" || true
done

dwebp=()
if ((need_webp)); then
  # dwebp and the libraries it loads, unpacked beside the photos (any served version: decoding WebP is specified
  # exactly, and the input bytes are checked). libwebp's own packages first, libpng16-16 for dwebp's PNG output.
  for pkg in webp libwebp7 libwebpdemux2 libpng16-16; do
    [[ -n $(served_version "$pkg") ]] || refresh_lists || true
    deb=$(download "$pkg") || die "cannot download $pkg, needed to decode the WebP photos"
    dpkg-deb -x "$deb" "$work/tools"
  done
  libdir=$(dirname "$(find "$work/tools" -name 'libwebp.so.*' | head -n 1)")
  dwebp=(env "LD_LIBRARY_PATH=$libdir:$(dirname "$(find "$work/tools" -name 'libpng16.so.*' | head -n 1)")"
         "$work/tools/usr/bin/dwebp" -quiet)
  "${dwebp[@]}" -version >/dev/null || die "the unpacked dwebp does not run"
fi

# --- check and write each photo -----------------------------------------------------------------------------------
written=0 missing=0
declare -A per_split=([train]=0 [heldout]=0)
while IFS=$'\t' read -r name split source path member sha _; do
  pkg=${source#deb:}; pkg=${pkg%%=*}
  file=$work/x/$pkg/${path%%!*}
  bytes=$work/bytes
  if [[ -z ${got_version[$pkg]:-} || ! -f $file ]]; then
    say "MISSING: $name ($pkg: ${path}) is not in the package: left out"; missing=$((missing + 1)); continue
  fi
  if [[ $member != - ]]; then
    # A photo inside a resource bundle: its bytes are stored uncompressed at offset+length.
    dd if="$file" of="$bytes" bs=64K iflag=skip_bytes,count_bytes skip="${member%+*}" count="${member#*+}" status=none
  else
    cp "$file" "$bytes"
  fi
  if [[ $(sha256sum "$bytes" | cut -d' ' -f1) != "$sha" ]]; then
    say "CHANGED: $name ($pkg ${got_version[$pkg]}: $path) differs from the listed SHA-256: left out"
    missing=$((missing + 1)); continue
  fi
  if [[ ${path##*.} == webp ]]; then
    "${dwebp[@]}" "$bytes" -o "$stage/$split/$name" || die "dwebp failed on $name"
  else
    cp "$bytes" "$stage/$split/$name"
  fi
  written=$((written + 1)); per_split[$split]=$((per_split[$split] + 1))
done < <(tail -n +2 "$list")

# --- replace the previous set -------------------------------------------------------------------------------------
{
  printf 'package\tpinned\tused\n'
  for pkg in $(printf '%s\n' "${!pinned[@]}" | sort); do
    printf '%s\t%s\t%s\n' "$pkg" "${pinned[$pkg]}" "${got_version[$pkg]:-missing}"
  done
} >"$stage/versions.tsv"
cp "$list" "$stage/photo_sources.tsv"
rm -rf "$out/train" "$out/heldout" "$out/versions.tsv" "$out/photo_sources.tsv"
mv "$stage/train" "$stage/heldout" "$stage/versions.tsv" "$stage/photo_sources.tsv" "$out/"

say "wrote $written of $rows photos to $out (train ${per_split[train]}, heldout ${per_split[heldout]})"
if ((missing)); then
  say "$missing photo(s) left out: the set is smaller than $list describes"
  ((allow_missing)) || exit 3
fi
