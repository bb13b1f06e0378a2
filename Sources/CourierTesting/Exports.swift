@_exported import CourierProcess
