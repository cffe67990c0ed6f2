// Tells the server the browser's time zone, for users who have not chosen one on My access:
// a cookie (partnercenter/time_zones.py reads it, and ignores any value that names no zone).
"use strict";

(function rememberTimeZone() {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone || !/^[A-Za-z0-9_+\-/]+$/.test(zone)) {
    return;
  }
  const cookie = `pc_tz=${zone}`;
  if (document.cookie.split("; ").includes(cookie)) {
    return;
  }
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `${cookie}; Path=/; Max-Age=31536000; SameSite=Lax${secure}`;
})();
