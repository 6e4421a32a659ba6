#!/usr/bin/env bash
# The pages' tests drive Debian's headless Chromium through chromedriver; a CJK font makes
# their screenshots legible, and Chromium's Chinese resources make its own words (a file
# chooser's button, a date field) Chinese, as on the users' machines. Installs what is missing
# (as root, from Debian's packages).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
fc-list 2>/dev/null | grep -qi "noto sans cjk" || missing+=(fonts-noto-cjk)
[ -f /usr/lib/chromium/locales/zh-CN.pak ] || missing+=(chromium-l10n)
if [ ${#missing[@]} -gt 0 ]; then
  echo "browser: installing ${missing[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
