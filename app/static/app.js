// The landing page's behaviour. The HTML is cached by the edge and identical for every visitor of a
// link; everything visitor-specific (UTM parameters, promo code, cart) lives here, in the browser.
(function () {
  "use strict";
  const shop = document.getElementById("shop");
  if (!shop) return;
  const params = new URLSearchParams(window.location.search);
  const influencer = shop.dataset.influencer || null;
  const utm = {};
  for (const key of ["source", "medium", "campaign", "content", "term"]) {
    const value = params.get("utm_" + key);
    if (value) utm[key] = value.slice(0, 200);
  }
  const promo = params.get("promo") || shop.dataset.promo || "";
  // First-party attribution cookie: set by script, so the page response itself carries no Set-Cookie
  // and stays cacheable.
  const attribution = { influencer: influencer, utm: utm };
  document.cookie = "peakops_attr=" + encodeURIComponent(JSON.stringify(attribution)) +
    "; path=/; max-age=604800; SameSite=Lax";

  const message = document.getElementById("message");
  const say = (text, isError) => { message.textContent = text; message.className = isError ? "error" : ""; };
  const api = async (method, path, body, headers) => {
    const response = await fetch(path, {
      method: method,
      headers: Object.assign({ "Content-Type": "application/json" }, headers || {}),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || ("HTTP " + response.status));
    return data;
  };

  navigator.sendBeacon && navigator.sendBeacon("/api/visits", new Blob(
    [JSON.stringify({ influencer: influencer, promo_code: promo || null, utm: utm })],
    { type: "application/json" }));

  let cartId = sessionStorage.getItem("peakops_cart");
  let idempotencyKey = null;
  document.getElementById("promo").value = promo;

  const renderCart = (cart) => {
    const list = document.getElementById("cart-items");
    list.replaceChildren(...cart.items.map((item) => {
      const li = document.createElement("li");
      li.textContent = item.quantity + " x " + item.sku + " @ " + item.unit_price + " " + item.currency;
      return li;
    }));
    document.getElementById("cart-subtotal").textContent = cart.subtotal;
    document.getElementById("checkout-form").hidden = cart.items.length === 0 || cart.checked_out;
  };

  const refreshStock = async () => {
    const data = await api("GET", "/api/products");
    for (const p of data.products) {
      const row = document.querySelector('.product[data-sku="' + p.sku + '"]');
      if (!row) continue;
      row.querySelector("[data-stock]").textContent = p.in_stock ? p.stock + " left" : "sold out";
      row.querySelector("button").disabled = !p.in_stock;
    }
  };

  const loadRecommendations = async () => {
    try {
      const data = await api("GET", "/api/recommendations");
      const list = document.getElementById("recommended");
      list.replaceChildren(...data.products.map((p) => {
        const li = document.createElement("li");
        li.textContent = p.name + " - " + p.price + " " + p.currency;
        return li;
      }));
      document.getElementById("recommendations").hidden = data.products.length === 0;
    } catch (e) {
      // Non-critical: under load the server sheds this first; the page works without it.
    }
  };

  shop.addEventListener("click", async (event) => {
    const sku = event.target.dataset && event.target.dataset.add;
    if (!sku) return;
    try {
      if (!cartId) {
        cartId = (await api("POST", "/api/carts", { influencer: influencer, utm: utm })).cart_id;
        sessionStorage.setItem("peakops_cart", cartId);
      }
      renderCart(await api("POST", "/api/carts/" + cartId + "/items", { sku: sku, quantity: 1 }));
      say("Added " + sku);
    } catch (e) {
      say(e.message, true);
    }
  });

  document.getElementById("checkout-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    // One key per order attempt: a double click or a retry after a timeout cannot order twice.
    idempotencyKey = idempotencyKey || (window.crypto && crypto.randomUUID ? crypto.randomUUID()
      : Date.now().toString(36) + "-" + Math.random().toString(36).slice(2));
    const email = document.getElementById("email").value;
    const code = document.getElementById("promo").value.trim();
    try {
      const order = await api("POST", "/api/checkout",
        { cart_id: cartId, email: email, promo_code: code || null },
        { "Idempotency-Key": idempotencyKey });
      sessionStorage.removeItem("peakops_cart");
      cartId = null;
      idempotencyKey = null;
      document.getElementById("checkout-form").hidden = true;
      say("Order " + order.order_id + " placed: " + order.total + " " + order.currency);
      refreshStock();
    } catch (e) {
      say(e.message, true);
    }
  });

  if (cartId) api("GET", "/api/carts/" + cartId).then(renderCart).catch(() => sessionStorage.removeItem("peakops_cart"));
  refreshStock().catch(() => {});
  loadRecommendations();
})();
