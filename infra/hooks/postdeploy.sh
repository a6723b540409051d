#!/bin/sh
# azd postdeploy hook, second phase of `azd up`: the Event Grid subscription to the blob trigger's
# webhook can only be created once the code is deployed (Event Grid validates the endpoint, and the
# host creates its blobs_extension key when it first indexes the EventGrid-source trigger).
# Turns EXPORT_EVENTS_ENABLED on and provisions again; later `azd up` runs include it in one pass.
set -eu

if [ "$(azd env get-value EXPORT_EVENTS_ENABLED 2>/dev/null || true)" = "true" ]; then
  echo "Event Grid subscription already enabled; nothing to do."
  exit 0
fi

# The subscription's template reads the blobs_extension key, which exists only once the host has
# indexed the EventGrid-source trigger. With the Azure CLI signed in, wait for it (up to 5 minutes;
# the query answers true/false, never the key itself). Without it, the retries below cover the wait.
rg=$(azd env get-value AZURE_RESOURCE_GROUP 2>/dev/null || true)
app=$(azd env get-value AZURE_FUNCTION_APP_NAME 2>/dev/null || true)
if command -v az >/dev/null 2>&1 && az account show >/dev/null 2>&1 && [ -n "$rg" ] && [ -n "$app" ]; then
  echo "Waiting for the host to create its blobs_extension key..."
  polls=0
  until [ "$(az functionapp keys list -g "$rg" -n "$app" --query 'systemKeys.blobs_extension != null' -o tsv 2>/dev/null || true)" = "true" ]; do
    polls=$((polls + 1))
    if [ "$polls" -ge 20 ]; then
      echo "The key has not appeared after 5 minutes; provisioning anyway."
      break
    fi
    sleep 15
  done
fi

azd env set EXPORT_EVENTS_ENABLED true
# The host may still be starting after the deployment: try a few times before giving up.
attempt=1
until azd provision --no-prompt; do
  if [ "$attempt" -ge 3 ]; then
    azd env set EXPORT_EVENTS_ENABLED false
    echo "Could not create the Event Grid subscription. Once the app runs, retry with:" >&2
    echo "  azd env set EXPORT_EVENTS_ENABLED true && azd provision" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  echo "Provisioning the Event Grid subscription failed; retrying in 60 s (attempt $attempt of 3)."
  sleep 60
done
