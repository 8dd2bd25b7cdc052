# Every minute (scheduled task, as SYSTEM): when the agent is gone, power off; the launch
# template makes that a termination and the group replaces the instance.
$log = "C:\semaphore-agent\health-check.log"
$stamp = Get-Date -Format "yyyy-MM-dd HH:mm:ss"
if (Get-Process | Where-Object { $_.Path -eq "C:\semaphore-agent\agent.exe" }) {
  Add-Content -Path $log -Value "[$stamp] Agent is running." -Encoding UTF8
} else {
  Add-Content -Path $log -Value "[$stamp] Agent is not running: powering off so the group replaces this instance." -Encoding UTF8
  Stop-Computer -Force
}
