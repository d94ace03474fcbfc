"""`kvmverify conform`: does a recorded KVM trace (trace-cmd report or tracefs text) conform to a model?"""
