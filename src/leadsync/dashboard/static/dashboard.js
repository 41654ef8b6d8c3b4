// Live updates for the leadsync dashboard: one WebSocket per property of the signed-in key
// (the session cookie authenticates it), each event listed in the "Live" panel and the page's
// content re-read in place, without a reload. Reconnects with ?since= so nothing is missed.
"use strict";
(function () {
  const body = document.body;
  const prefix = body.dataset.prefix;
  const properties = (body.dataset.properties || "").split(",").filter(Boolean);
  const status = document.getElementById("live-status");
  const list = document.getElementById("live-events");
  const EVENTS = ["new_lead", "lead_update", "status_change", "sync_conflict"];
  const open = new Set();
  let refreshing = null;

  function setStatus() {
    const state = open.size === properties.length && open.size > 0 ? "live" : "offline";
    status.textContent = state;
    status.dataset.state = state;
  }

  function show(message) {
    const item = document.createElement("li");
    const data = message.data || {};
    const time = (message.timestamp || "").slice(11, 19);
    item.className = "live-event " + message.type;
    item.dataset.type = message.type;
    item.textContent = time + " " + message.type.replace("_", " ") + " (" + message.source + ") ";
    if (data.conversation_id) {
      const link = document.createElement("a");
      const name = [data.first_name, data.last_name].filter(Boolean).join(" ");
      link.href = prefix + "/leads/" + data.conversation_id;
      link.textContent = name || data.field || "lead";
      item.appendChild(link);
      if (data.status) item.appendChild(document.createTextNode(" · " + data.status));
    }
    list.prepend(item);
    while (list.children.length > 30) list.lastElementChild.remove();
  }

  async function refresh() {
    // A person typing into a form keeps what they typed: refresh when they leave it.
    const active = document.activeElement;
    if (active && active.form && document.getElementById("content").contains(active)) return;
    const response = await fetch(location.href, { credentials: "same-origin" });
    if (!response.ok || response.redirected) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("content");
    if (fresh) document.getElementById("content").replaceWith(fresh);
  }

  function schedule() {
    // Several events in a burst cost one re-read (at most about one a second).
    if (refreshing) return;
    refreshing = setTimeout(() => {
      refreshing = null;
      refresh().catch(() => {});
    }, 1000);
  }

  function connect(propertyId, since, delay) {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    let url = scheme + location.host + "/api/resman/sync/websocket?property_id=" + propertyId;
    if (since !== null) url += "&since=" + since;
    const socket = new WebSocket(url);
    let last = since;
    socket.onmessage = (frame) => {
      const message = JSON.parse(frame.data);
      if (message.type === "subscribed") {
        open.add(propertyId);
        setStatus();
        if (last === null) last = message.data.latest_sequence;
        delay = 1000;
      } else if (EVENTS.includes(message.type)) {
        last = message.sequence;
        show(message);
        schedule();
      }
    };
    socket.onclose = (event) => {
      open.delete(propertyId);
      setStatus();
      if (event.code === 4401 || event.code === 4403) return; // signed out or out of scope
      const resume = event.code === 4410 ? null : last;
      setTimeout(() => connect(propertyId, resume, Math.min(delay * 2, 30000)), delay);
    };
  }

  properties.forEach((id) => connect(id, null, 1000));
})();
