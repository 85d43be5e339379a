-- Argo CD health check for hotfix.dev/Hotfix. Install it in argocd-cm as
--   resource.customizations.health.hotfix.dev_Hotfix: |
--     <this file>
hs = {}
if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the hotfix operator"
  return hs
end
local phase = obj.status.phase
local message = phase
if obj.status.decision ~= nil and obj.status.decision.reason ~= nil then
  message = phase .. ": " .. obj.status.decision.reason
end
hs.message = message
if phase == "Stable" or phase == "Superseded" then
  hs.status = "Healthy"
elseif phase == "AwaitingApproval" then
  hs.status = "Suspended"
elseif phase == "RolledBack" or phase == "Escalated" or phase == "Failed" then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
return hs
