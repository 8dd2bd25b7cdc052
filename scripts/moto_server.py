"""moto_server for the tests, with one fidelity fix to CloudFormation stack updates.

CloudFormation updates a resource only when its properties change: a change to nothing but
its `Metadata` or `DependsOn` leaves the physical resource alone. moto 5.2.5 compares the
whole resource JSON instead, so such a resource is "modified": moto then recreates it (an
Auto Scaling group gets a new name) or, for types it cannot update (AWS::IAM::InstanceProfile,
AWS::Lambda::Permission), drops it from the stack and fails the next Fn::GetAtt on it. The
upgrade test deploys our template over a stack that the original CDK app created, whose
resources carry other `DependsOn` lists, so it needs CloudFormation's rule. Everything else is
moto as released.

Usage: python scripts/moto_server.py -H 127.0.0.1 -p PORT (the arguments of moto_server).
"""

import sys

from moto.cloudformation import parsing
from moto.server import main

IGNORED_ATTRIBUTES = ("Metadata", "DependsOn")


def _essence(resource):
    return {k: v for k, v in resource.items() if k not in IGNORED_ATTRIBUTES}


_moto_build_resource_diff = parsing.ResourceMap.build_resource_diff


def _build_resource_diff(self, other_template, parameters=None):
    actions = _moto_build_resource_diff(self, other_template, parameters)
    old = self._resource_json_map
    new = other_template["Resources"]
    # Names moto lists because of a changed parameter have identical JSON on both sides and
    # are kept; names listed for a JSON difference are kept only when it is more than
    # Metadata or DependsOn.
    actions["Modify"] = [
        name
        for name in actions["Modify"]
        if old[name] == new[name] or _essence(old[name]) != _essence(new[name])
    ]
    return actions


parsing.ResourceMap.build_resource_diff = _build_resource_diff

if __name__ == "__main__":
    sys.exit(main())
