"""python-diameter as the server of `diameter bench`: answers CCR and ACR with success until
"stop" arrives on standard input (or 60 seconds pass)."""
import select
import sys
import time

from diameter.message.constants import *
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication

port = int(sys.argv[1])
node = Node("py-server.example.net", "example.net", ip_addresses=["127.0.0.1"], tcp_port=port)
peer = node.add_peer("aaa://bench.example.net", "example.net")


def handle(app, msg):
    ans = app.generate_answer(msg, result_code=E_RESULT_CODE_DIAMETER_SUCCESS)
    if msg.header.command_code == 272:
        ans.cc_request_type = msg.cc_request_type
        ans.cc_request_number = msg.cc_request_number
    return ans


for app_id, acct in ((APP_DIAMETER_CREDIT_CONTROL_APPLICATION, False), (APP_DIAMETER_BASE_ACCOUNTING, True)):
    app = SimpleThreadingApplication(app_id, is_auth_application=not acct, is_acct_application=acct,
                                     request_handler=handle)
    node.add_application(app, [peer])
node.start()
print("READY", flush=True)
deadline = time.time() + 60
while time.time() < deadline:
    ready, _, _ = select.select([sys.stdin], [], [], 0.2)
    if ready and sys.stdin.readline().strip() in ("stop", ""):
        break
node.stop(wait_timeout=2, force=True)
