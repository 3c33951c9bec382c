module bench-fiber-go

go 1.19
