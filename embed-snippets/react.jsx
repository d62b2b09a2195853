// Widget Server sign-up form as a React component.
//
//   <SignupWidget onRegistered={(detail) => console.log(detail.user_id)} />
//
// embed.js is loaded once per page; the component mounts the iframe itself, so the
// <script> carries no data-pool and does not auto-mount.
import { useEffect, useRef } from "react";

const WIDGET_ORIGIN = "{{WIDGET_ORIGIN}}";

let embedScript = null;

function loadEmbedScript() {
  if (!embedScript) {
    embedScript = new Promise((resolve, reject) => {
      if (window.WidgetServer) return resolve(window.WidgetServer);
      const script = document.createElement("script");
      script.src = `${WIDGET_ORIGIN}/static/embed.js`;
      script.async = true;
      script.onload = () => resolve(window.WidgetServer);
      script.onerror = () => {
        embedScript = null; // allow a retry on the next mount
        reject(new Error("Widget Server: could not load embed.js"));
      };
      document.head.appendChild(script);
    });
  }
  return embedScript;
}

export function SignupWidget({ pool = "{{POOL_ID}}", flow = "register", onRegistered, onMessage }) {
  const hostRef = useRef(null);
  // Latest callbacks without re-mounting the iframe when the parent re-renders.
  const callbacks = useRef({ onRegistered, onMessage });
  callbacks.current = { onRegistered, onMessage };

  useEffect(() => {
    const host = hostRef.current;
    let widget = null;
    let cancelled = false;
    const handleRegistered = (event) => callbacks.current.onRegistered?.(event.detail);
    const handleMessage = (event) => callbacks.current.onMessage?.(event.detail);
    host.addEventListener("registered", handleRegistered);
    host.addEventListener("widget-message", handleMessage);

    loadEmbedScript()
      .then((WidgetServer) => {
        if (!cancelled) widget = WidgetServer.mount(host, { pool, flow, origin: WIDGET_ORIGIN });
      })
      .catch((error) => console.error(error));

    return () => {
      cancelled = true;
      widget?.unmount();
      host.removeEventListener("registered", handleRegistered);
      host.removeEventListener("widget-message", handleMessage);
    };
  }, [pool, flow]);

  return <div ref={hostRef} />;
}

export default SignupWidget;
