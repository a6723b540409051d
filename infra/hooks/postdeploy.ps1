# azd postdeploy hook (Windows twin of postdeploy.sh): second phase of `azd up`. The Event Grid
# subscription to the blob trigger's webhook needs the deployed code (endpoint validation and the
# host's blobs_extension key), so this turns EXPORT_EVENTS_ENABLED on and provisions again.
$ErrorActionPreference = 'Stop'

$enabled = (azd env get-value EXPORT_EVENTS_ENABLED 2>$null)
if ($enabled -eq 'true') {
    Write-Host 'Event Grid subscription already enabled; nothing to do.'
    exit 0
}

# Wait (up to 5 minutes) for the host's blobs_extension key when the Azure CLI is signed in; the
# query answers true/false, never the key. Without az, the retries below cover the wait.
$rg = (azd env get-value AZURE_RESOURCE_GROUP 2>$null)
$app = (azd env get-value AZURE_FUNCTION_APP_NAME 2>$null)
if ((Get-Command az -ErrorAction SilentlyContinue) -and $rg -and $app) {
    az account show *> $null
    if ($LASTEXITCODE -eq 0) {
        Write-Host 'Waiting for the host to create its blobs_extension key...'
        for ($poll = 0; $poll -lt 20; $poll++) {
            $present = (az functionapp keys list -g $rg -n $app --query 'systemKeys.blobs_extension != null' -o tsv 2>$null)
            if ($present -eq 'true') { break }
            Start-Sleep -Seconds 15
        }
    }
}

azd env set EXPORT_EVENTS_ENABLED true
for ($attempt = 1; $attempt -le 3; $attempt++) {
    azd provision --no-prompt
    if ($LASTEXITCODE -eq 0) { exit 0 }
    if ($attempt -lt 3) {
        Write-Host "Provisioning the Event Grid subscription failed; retrying in 60 s (attempt $($attempt + 1) of 3)."
        Start-Sleep -Seconds 60
    }
}
azd env set EXPORT_EVENTS_ENABLED false
Write-Error 'Could not create the Event Grid subscription. Once the app runs, retry with: azd env set EXPORT_EVENTS_ENABLED true; azd provision'
exit 1
