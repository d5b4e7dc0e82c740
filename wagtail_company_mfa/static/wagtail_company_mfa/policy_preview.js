// The policy preview ("What this means") follows the company form as it is edited. The server renders the
// text for the values in the form (the same code and template as on page load); this script only asks for
// it and puts it in place, in a region the page announces politely. Without it the preview shows the
// saved policy. Wagtail's admin loads scripts before the page's content, so this waits for the document.
(() => {
  const FIELDS = ["require_mfa", "enforcement_date", "time_zone", "new_member_grace_days", "allowed_methods"];

  const followPolicyForm = () => {
    const preview = document.querySelector("[data-policy-preview-url]");
    const form = preview && preview.closest("form");
    if (!form) {
      return;
    }
    const url = preview.dataset.policyPreviewUrl;
    let timer = null;
    let latest = 0;

    const refresh = async () => {
      const data = new FormData(form);
      const params = new URLSearchParams();
      for (const name of FIELDS) {
        for (const value of data.getAll(name)) {
          params.append(name, value);
        }
      }
      latest += 1;
      const request = latest;
      try {
        const response = await fetch(`${url}?${params}`, {
          credentials: "same-origin",
          headers: { Accept: "application/json", "X-Requested-With": "XMLHttpRequest" },
        });
        if (!response.ok) {
          return;
        }
        const body = await response.json();
        // An older answer arriving after a newer one must not overwrite it.
        if (request === latest && typeof body.html === "string") {
          preview.innerHTML = body.html;
        }
      } catch (error) {
        // Offline or signed out: the text shown stays; saving still tells the truth.
      }
    };

    const schedule = (event) => {
      if (!event.target || !FIELDS.includes(event.target.name)) {
        return;
      }
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 250);
    };
    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", followPolicyForm);
  } else {
    followPolicyForm();
  }
})();
